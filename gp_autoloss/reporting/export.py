"""Export a run's best loss: the formula, and a ready-to-paste MMDetection loss config."""

from __future__ import annotations

import json

from gp_autoloss.errors import GpAutolossError
from gp_autoloss.reporting.data import RunData

__all__ = ["export_snippet", "EXPORT_FORMATS"]

EXPORT_FORMATS = ("text", "mmdet", "json")

#: where a loss of each space goes in an mmdet config: the IoU-aware head that feeds its inputs, and the key
_MMDET_PLACES = {
    "softmax_cls": ("two-stage R-CNN head (Faster R-CNN)", "roi_head=dict(bbox_head=dict(type='GPShared2FCBBoxHead', "
                    "loss_cls={loss}))"),
    "sigmoid_cls": ("one-stage head (FCOS)", "bbox_head=dict(type='GPFCOSHead', loss_cls={loss})"),
    "iou_reg": ("box regression on decoded boxes (FCOS here; for Faster R-CNN put it in roi_head.bbox_head "
                "with type='GPShared2FCBBoxHead', reg_decoded_bbox=True)", "bbox_head=dict(type='GPFCOSHead', "
                "loss_bbox={loss})"),
}


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
        loss = f"dict(_delete_=True, type='GPLoss', formula={best['formula']!r}, space={space!r})"
        where, model = _MMDET_PLACES.get(space, ("a head that feeds the space's inputs", "loss={loss}"))
        return (
            "# add to your mmdet config (see README, 'Using a found loss in MMDetection')\n"
            f"# {space}: {where}\n"
            "custom_imports = dict(imports=['detectors_adapter.models'], allow_failed_imports=False)\n"
            f"model = dict({model.format(loss=loss)})\n"
        )
    raise GpAutolossError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
