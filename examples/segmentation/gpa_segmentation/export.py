"""The ``seg_torch`` export format: ``gp-autoloss export RUN --format seg_torch`` prints a Python snippet that
builds a run's best loss as a torch module (export formats belong to the plugin that knows their target)."""

from __future__ import annotations

from typing import Any

from gp_autoloss.reporting.export import register_export_format
from gpa_segmentation.space import SPACE

__all__ = ["torch_snippet"]


def torch_snippet(run: Any, best: dict[str, Any]) -> str:
    """Python text: parse the best formula in ``bin_seg`` and compile it to a per-pixel torch loss."""
    metric = best.get("proxy_metric")
    score = f" (proxy IoU {metric:.4f})" if isinstance(metric, (int, float)) else ""
    return (
        f"# {SPACE} loss found by gp-autoloss{score}\n"
        "import gpa_segmentation  # noqa: F401  (registers bin_seg and square)\n"
        "from gp_autoloss import parse\n\n"
        f"seg_loss = parse({best['formula']!r}, {SPACE!r}).to_torch()\n"
        "# per-pixel loss of logits and 0/1 masks of the same shape:\n"
        "# seg_loss(x=logits.flatten(), g=masks.flatten()).mean()\n"
    )


register_export_format("seg_torch", torch_snippet, help="a Python snippet building the loss as a torch module",
                       spaces=(SPACE,))  # fmt: skip
