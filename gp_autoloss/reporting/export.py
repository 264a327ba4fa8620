"""Export a run's best loss: the formula, and a ready-to-paste MMDetection loss config."""

from __future__ import annotations

import json

from gp_autoloss.errors import GpAutolossError
from gp_autoloss.reporting.data import RunData

__all__ = ["export_snippet", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("text", "mmdet", "json")


def export_snippet(run: RunData, fmt: str = "text") -> str:
    """The best loss of ``run`` as plain formula text, an mmdet config snippet, or JSON."""
    best = run.best
    if best is None:
        raise GpAutolossError(f"run {run.run_dir} has no evaluated loss yet")
    space = run.config.get("space")
    if fmt == "text":
        return best["formula"]
    if fmt == "json":
        return json.dumps({"formula": best["formula"], "prefix": best["prefix"], "space": space,
                           "proxy_metric": best["proxy_metric"], "generation": best["generation"]}, indent=2)
    if fmt == "mmdet":
        return (
            "# add to your mmdet config (see README, 'Using a found loss in MMDetection')\n"
            "custom_imports = dict(imports=['detectors_adapter'], allow_failed_imports=False)\n"
            f"loss = dict(type='GPLoss', formula={best['formula']!r}, space={space!r}, loss_weight=1.0)\n"
        )
    raise GpAutolossError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
