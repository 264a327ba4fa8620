"""Detection-style metrics of the ``toy`` adapter: COCO AP over IoU thresholds, box IoU quantities."""

from __future__ import annotations

import torch

__all__ = ["IOU_THRESHOLDS", "box_iou_terms", "coco_ap", "mean_recall_over_thresholds"]

#: COCO's IoU thresholds 0.50:0.05:0.95
IOU_THRESHOLDS = torch.linspace(0.5, 0.95, 10)
_RECALL_POINTS = torch.linspace(0.0, 1.0, 101)


def coco_ap(
    scores: torch.Tensor,
    labels: torch.Tensor,
    iou: torch.Tensor,
    group: torch.Tensor | None = None,
    thresholds: torch.Tensor = IOU_THRESHOLDS,
) -> float:
    """COCO-style AP (101-point interpolation) averaged over classes and IoU thresholds.

    Every sample is a detection for every class, scored ``scores[:, k]``. Samples of one ``group`` are boxes
    of one object: per class only the best-scoring one survives (what NMS does to overlapping boxes), and the
    object is one ground truth. At threshold ``t`` a surviving detection of class ``k`` is a true positive only
    if its label is ``k`` *and* its box IoU is at least ``t``; otherwise it is a false positive and the object
    is missed -- so, as in COCO, scores that rank an object's best-localized box first pay.

    Args:
        scores: (N, K) class scores (higher is more confident), K foreground classes.
        labels: (N,) ``0..K-1`` for positives, anything else (e.g. ``K``) for background.
        iou: (N,) IoU of each sample's box with its object.
        group: (N,) object id of each sample (non-negative); ``None``: every sample its own object.
        thresholds: IoU thresholds to average over.
    """
    n, k = scores.shape
    if n == 0:
        return 0.0
    scores = scores.float()
    if group is None:
        group = torch.arange(n)
    # NMS within each object: keep, per class, the first of the best-scoring boxes
    num_groups = int(group.max()) + 1
    gk = group.unsqueeze(1).expand(n, k)
    best = torch.full((num_groups, k), -torch.inf).scatter_reduce(0, gk, scores, "amax")
    is_best = scores >= best.gather(0, gk)
    first = torch.full((num_groups, k), n).scatter_reduce(
        0, gk, torch.where(is_best, torch.arange(n).unsqueeze(1), n), "amin"
    )
    kept = first.gather(0, gk) == torch.arange(n).unsqueeze(1)  # (N, K)

    order = torch.argsort(torch.where(kept, scores, -torch.inf).t(), dim=1, descending=True, stable=True)  # (K, N)
    kept_sorted = kept.t().gather(1, order)
    lab = labels[order]
    q = iou[order]
    is_cls = lab == torch.arange(k).unsqueeze(1)  # (K, N)
    num_gt = torch.zeros(k, dtype=torch.long)
    pos = (labels >= 0) & (labels < k)
    if bool(pos.any()):  # objects per class
        obj_cls = torch.full((num_groups,), -1, dtype=torch.long).scatter(0, group[pos], labels[pos])
        num_gt = torch.bincount(obj_cls[obj_cls >= 0], minlength=k)[:k]
    tp = (is_cls & kept_sorted).unsqueeze(1) & (q.unsqueeze(1) >= thresholds.view(1, -1, 1))  # (K, T, N)
    ctp = tp.cumsum(dim=2).float()
    ndet = kept_sorted.cumsum(dim=1).clamp(min=1).float().unsqueeze(1)
    precision = ctp / ndet
    recall = ctp / num_gt.clamp(min=1).view(-1, 1, 1).float()
    # precision envelope: best precision at any recall at least this one
    envelope = precision.flip(2).cummax(dim=2).values.flip(2)
    points = _RECALL_POINTS.expand(k, thresholds.numel(), -1).contiguous()
    idx = torch.searchsorted(recall.contiguous(), points, side="left")  # first rank reaching each recall
    sampled = torch.where(idx < n, envelope.gather(2, idx.clamp(max=n - 1)), torch.zeros(()))
    ap = sampled.mean(dim=2)  # (K, T)
    present = num_gt > 0
    if not bool(present.any()):
        return 0.0
    return float(ap[present].mean())


def box_iou_terms(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Intersection, union + 1e-7 and enclosing area + 1e-7 of paired (x1, y1, x2, y2) boxes (differentiable)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(dim=1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(dim=1)
    union = area_p + area_t - inter + 1e-7
    elt = torch.minimum(pred[:, :2], target[:, :2])
    erb = torch.maximum(pred[:, 2:], target[:, 2:])
    enclose = (erb - elt).clamp(min=0).prod(dim=1) + 1e-7
    return inter, union, enclose


def mean_recall_over_thresholds(ious: torch.Tensor, thresholds: torch.Tensor = IOU_THRESHOLDS) -> float:
    """Mean over thresholds ``t`` of the fraction of boxes with IoU >= ``t`` (the regression metric)."""
    if ious.numel() == 0:
        return 0.0
    ious = torch.nan_to_num(ious, nan=0.0)
    return float((ious.unsqueeze(0) >= thresholds.view(-1, 1)).float().mean())
