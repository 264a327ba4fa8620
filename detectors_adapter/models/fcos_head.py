"""An FCOS head whose losses see the IoU of each decoded prediction (CSE-Autoloss-B's inputs).

Only :meth:`FCOSHead.loss_by_feat` is replaced, following the authors' head:

* the regression loss comes first, on decoded boxes in **pixels** (with ``norm_on_bbox`` the distances are
  multiplied back by each level's stride, so ``i``, ``u``, ``e`` are areas in pixels);
* the IoU of each positive's decoded prediction with its target (detached, clamped at 1e-7) replaces the
  centerness target (``iou_as_centerness=True``) and weights the box loss, as centerness does in mmdet;
* the classification loss gets ``w`` = that IoU for positives, 1 for negatives (``iou=`` of ``GPLoss``);
  mmdet's own losses (``FocalLoss``) are called as mmdet calls them.

Batches without a positive sample give zero box/centerness losses that keep the graph, and ``w = 1``.
"""

from __future__ import annotations

from typing import Any

import torch
from mmdet.models.dense_heads import FCOSHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from torch import Tensor

from detectors_adapter.models.bbox_head import IOU_MIN
from detectors_adapter.models.gp_loss import GPLoss, check_branch, with_branch_space

__all__ = ["GPFCOSHead"]


def _flat(maps: list[Tensor], channels: int) -> Tensor:
    return torch.cat([m.permute(0, 2, 3, 1).reshape(-1, channels) for m in maps])


@MODELS.register_module()
class GPFCOSHead(FCOSHead):
    """mmdet's ``FCOSHead`` with IoU-aware losses (see the module docstring).

    Args:
        iou_as_centerness: train the centerness branch to predict the IoU (the paper's setting); ``False``
            keeps mmdet's centerness target (the IoU still reaches the classification loss).
        *args, **kwargs: as ``FCOSHead``. A ``GPLoss`` ``loss_cls`` must be a ``sigmoid_cls`` loss and a
            ``GPLoss`` ``loss_bbox`` an ``iou_reg`` loss.
    """

    def __init__(self, *args: Any, iou_as_centerness: bool = True, **kwargs: Any) -> None:
        name = type(self).__name__
        if "loss_cls" in kwargs:
            kwargs["loss_cls"] = with_branch_space(kwargs["loss_cls"], "sigmoid_cls", f"{name}.loss_cls")
        if "loss_bbox" in kwargs:
            kwargs["loss_bbox"] = with_branch_space(kwargs["loss_bbox"], "iou_reg", f"{name}.loss_bbox")
        super().__init__(*args, **kwargs)
        check_branch(self.loss_cls, "sigmoid_cls", f"{name}.loss_cls")
        check_branch(self.loss_bbox, "iou_reg", f"{name}.loss_bbox")
        self.iou_as_centerness = iou_as_centerness

    def loss_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor], centernesses: list[Tensor],
                     batch_gt_instances: InstanceList, batch_img_metas: list[dict],
                     batch_gt_instances_ignore: OptInstanceList = None) -> dict[str, Tensor]:
        """Box and centerness losses from decoded pixel boxes, then classification with ``w`` = IoU."""
        assert len(cls_scores) == len(bbox_preds) == len(centernesses)
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        points = self.prior_generator.grid_priors(featmap_sizes, dtype=bbox_preds[0].dtype,
                                                  device=bbox_preds[0].device)
        labels, bbox_targets = self.get_targets(points, batch_gt_instances)
        num_imgs = cls_scores[0].size(0)

        flat_scores = _flat(cls_scores, self.cls_out_channels)
        flat_preds = _flat(bbox_preds, 4)
        flat_centerness = _flat(centernesses, 1).reshape(-1)
        flat_labels = torch.cat(labels)
        flat_targets = torch.cat(bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])

        pos_inds = ((flat_labels >= 0) & (flat_labels < self.num_classes)).nonzero().reshape(-1)
        num_pos = max(reduce_mean(flat_preds.new_tensor(float(len(pos_inds)))), 1.0)
        pos_preds = flat_preds[pos_inds]
        pos_centerness = flat_centerness[pos_inds]
        pos_ious = None
        if len(pos_inds) > 0:
            pos_targets = flat_targets[pos_inds]
            pos_points = flat_points[pos_inds]
            if self.norm_on_bbox:  # distances are in strides during training: back to pixels
                strides = torch.cat([flat_preds.new_full((num_imgs * p.size(0), 1), float(self._stride(k)))
                                     for k, p in enumerate(points)])[pos_inds]
                pos_preds, pos_targets_px = pos_preds * strides, pos_targets * strides
            else:
                pos_targets_px = pos_targets
            decoded_pred = self.bbox_coder.decode(pos_points, pos_preds)
            decoded_target = self.bbox_coder.decode(pos_points, pos_targets_px)
            pos_ious = bbox_overlaps(decoded_pred.detach(), decoded_target, is_aligned=True).clamp(min=IOU_MIN)
            ctr_targets = pos_ious if self.iou_as_centerness else self.centerness_target(pos_targets)
            ctr_denorm = max(reduce_mean(ctr_targets.sum().detach()), 1e-6)
            loss_bbox = self.loss_bbox(decoded_pred, decoded_target, weight=ctr_targets, avg_factor=ctr_denorm)
            loss_centerness = self.loss_centerness(pos_centerness, ctr_targets, avg_factor=num_pos)
        else:
            loss_bbox = pos_preds.sum()
            loss_centerness = pos_centerness.sum()

        if isinstance(self.loss_cls, GPLoss):
            w = flat_scores.new_ones(flat_scores.size(0))
            if pos_ious is not None:
                w[pos_inds] = pos_ious.to(w.dtype)
            loss_cls = self.loss_cls(flat_scores, flat_labels, avg_factor=num_pos, iou=w)
        else:
            loss_cls = self.loss_cls(flat_scores, flat_labels, avg_factor=num_pos)
        return {"loss_cls": loss_cls, "loss_bbox": loss_bbox, "loss_centerness": loss_centerness}

    def _stride(self, level: int) -> float:
        stride = self.strides[level]
        return float(stride[0] if isinstance(stride, (tuple, list)) else stride)
