"""Faster R-CNN box heads whose losses see the IoU of each decoded prediction (CSE-Autoloss-A's inputs).

Only :meth:`BBoxHead.loss` is replaced. It computes the regression loss first, then hands the
classification loss ``w``: the IoU of each positive sample's decoded prediction with its target (detached,
clamped at 1e-7), 1 for negatives -- as the authors' heads do. A ``GPLoss`` gets it as ``iou=``; mmdet's own
losses are called exactly as mmdet calls them. Batches without a positive sample give a zero box loss that
keeps the graph, and ``w = 1`` everywhere.

``GPLoss`` regression over ``iou_reg`` needs decoded boxes: set ``reg_decoded_bbox=True`` (as mmdet's GIoU
configs do). With encoded deltas (e.g. ``L1Loss``) the IoU for ``w`` is still computed from decoded boxes.
"""

from __future__ import annotations

from typing import Any

import torch
from mmdet.models.losses import accuracy
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead, Shared4Conv1FCBBoxHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from torch import Tensor

from detectors_adapter.models.gp_loss import GPLoss, check_branch, with_branch_space
from gp_autoloss.errors import ConfigError

__all__ = ["IOU_MIN", "GPBBoxLossMixin", "GPShared2FCBBoxHead", "GPShared4Conv1FCBBoxHead"]

#: the IoU handed to the classification loss is clamped at this value (authors' code)
IOU_MIN = 1e-7


def _prepare_losses(kwargs: dict[str, Any], head: str) -> dict[str, Any]:
    kwargs = dict(kwargs)
    if "loss_cls" in kwargs:
        kwargs["loss_cls"] = with_branch_space(kwargs["loss_cls"], "softmax_cls", f"{head}.loss_cls")
    if "loss_bbox" in kwargs:
        kwargs["loss_bbox"] = with_branch_space(kwargs["loss_bbox"], "iou_reg", f"{head}.loss_bbox")
    return kwargs


class GPBBoxLossMixin:
    """Replaces ``BBoxHead.loss``; mix in before an mmdet ``BBoxHead`` subclass."""

    num_classes: int
    reg_class_agnostic: bool
    reg_decoded_bbox: bool
    bbox_coder: Any
    loss_cls: Any
    loss_bbox: Any
    custom_activation: bool

    def _check_gp_losses(self) -> None:
        name = type(self).__name__
        check_branch(self.loss_cls, "softmax_cls", f"{name}.loss_cls")
        check_branch(self.loss_bbox, "iou_reg", f"{name}.loss_bbox")
        if isinstance(self.loss_bbox, GPLoss) and not self.reg_decoded_bbox:
            raise ConfigError(f"{name}: a GPLoss box loss works on decoded boxes; set reg_decoded_bbox=True")

    def _positive_boxes(self, bbox_pred: Tensor, rois: Tensor, labels: Tensor, pos: Tensor,
                        bbox_targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(prediction as the box loss takes it, decoded prediction, decoded target) of the positives."""
        n = bbox_pred.size(0)
        if self.reg_class_agnostic:
            pred = bbox_pred.view(n, -1)[pos]
        else:
            pred = bbox_pred.view(n, self.num_classes, -1)[pos, labels[pos]]
        pos_rois = rois[pos, 1:]
        target = bbox_targets[pos]
        if self.reg_decoded_bbox:
            pred = get_box_tensor(self.bbox_coder.decode(pos_rois, pred))
            return pred, pred, target
        decoded = get_box_tensor(self.bbox_coder.decode(pos_rois, pred.detach()))
        return pred, decoded, get_box_tensor(self.bbox_coder.decode(pos_rois, target))

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor, label_weights: Tensor,
             bbox_targets: Tensor, bbox_weights: Tensor, reduction_override: str | None = None) -> dict:
        """Regression first, then classification with ``w`` = detached IoU of the decoded positives."""
        pos = (labels >= 0) & (labels < self.num_classes)
        loss_bbox = None
        ious = None
        if bbox_pred is not None:
            if pos.any():
                pred, decoded, target = self._positive_boxes(bbox_pred, rois, labels, pos, bbox_targets)
                loss_bbox = self.loss_bbox(pred, bbox_targets[pos], bbox_weights[pos],
                                           avg_factor=bbox_targets.size(0), reduction_override=reduction_override)
                ious = bbox_overlaps(decoded.detach(), target.detach(), is_aligned=True).clamp(min=IOU_MIN)
            else:
                loss_bbox = bbox_pred[pos].sum()

        losses: dict[str, Tensor] = {}
        if cls_score is not None:
            avg_factor = max(torch.sum(label_weights > 0).float().item(), 1.0)
            if cls_score.numel() > 0:
                if isinstance(self.loss_cls, GPLoss):
                    w = cls_score.new_ones(cls_score.size(0))
                    if ious is not None:
                        w[pos] = ious.to(w.dtype)
                    loss_cls = self.loss_cls(cls_score, labels, label_weights, avg_factor=avg_factor,
                                             reduction_override=reduction_override, iou=w)
                else:
                    loss_cls = self.loss_cls(cls_score, labels, label_weights, avg_factor=avg_factor,
                                             reduction_override=reduction_override)
                if isinstance(loss_cls, dict):
                    losses.update(loss_cls)
                else:
                    losses["loss_cls"] = loss_cls
                if self.custom_activation:
                    losses.update(self.loss_cls.get_accuracy(cls_score, labels))
                else:
                    losses["acc"] = accuracy(cls_score, labels)
        if loss_bbox is not None:
            losses["loss_bbox"] = loss_bbox
        return losses


@MODELS.register_module()
class GPShared2FCBBoxHead(GPBBoxLossMixin, Shared2FCBBoxHead):
    """mmdet's ``Shared2FCBBoxHead`` (Faster R-CNN's) with the IoU-aware loss of :class:`GPBBoxLossMixin`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_prepare_losses(kwargs, type(self).__name__))
        self._check_gp_losses()


@MODELS.register_module()
class GPShared4Conv1FCBBoxHead(GPBBoxLossMixin, Shared4Conv1FCBBoxHead):
    """mmdet's ``Shared4Conv1FCBBoxHead`` with the IoU-aware loss of :class:`GPBBoxLossMixin`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_prepare_losses(kwargs, type(self).__name__))
        self._check_gp_losses()
