"""``gp-autoloss export --format mmdet``: a found loss as a ready-to-paste MMDetection loss config snippet.

Plain text only (no mmdet import); registered by :mod:`detectors_adapter.plugin`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MMDET_PLACES", "mmdet_snippet"]

#: where a loss of each space goes in an mmdet config: the IoU-aware head that feeds its inputs, and the key
MMDET_PLACES = {
    "softmax_cls": ("two-stage R-CNN head (Faster R-CNN)", "roi_head=dict(bbox_head=dict(type='GPShared2FCBBoxHead', "
                    "loss_cls={loss}))"),
    "sigmoid_cls": ("one-stage head (FCOS)", "bbox_head=dict(type='GPFCOSHead', loss_cls={loss})"),
    "iou_reg": ("box regression on decoded boxes (FCOS here; for Faster R-CNN put it in roi_head.bbox_head "
                "with type='GPShared2FCBBoxHead', reg_decoded_bbox=True)", "bbox_head=dict(type='GPFCOSHead', "
                "loss_bbox={loss})"),
}


def mmdet_snippet(run: Any, best: dict[str, Any]) -> str:
    """The mmdet config lines that put ``best`` (a run's best candidate row) into the head of its space."""
    space = run.config.get("space")
    loss = f"dict(_delete_=True, type='GPLoss', formula={best['formula']!r}, space={space!r})"
    where, model = MMDET_PLACES[space]
    return (
        "# add to your mmdet config (see README, 'Using a found loss in MMDetection')\n"
        f"# {space}: {where}\n"
        "custom_imports = dict(imports=['detectors_adapter.models'], allow_failed_imports=False)\n"
        f"model = dict({model.format(loss=loss)})\n"
    )
