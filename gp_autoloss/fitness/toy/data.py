"""Synthetic detection-like data for the ``toy`` adapter, generated deterministically from a seed.

Classification (both branches): every sample is a candidate box with a feature vector. A box either covers
an object (a *positive*: the object's class and the IoU ``q`` of the box with it; each object has several
such boxes, which NMS merges at test time), overlaps an object too little (a *hard negative*: background,
but its features show that object's class, faded), or covers nothing (an *easy negative*). Features are
noisy functions of class and IoU: the class prototype scaled by the object's visibility and (partly) by
``q``, plus a localization-quality cue that tells ``q`` on positives but is random on negatives -- so telling
positives from negatives does not need it, ranking an object's best box first does (the misalignment of
classification score and localization quality that IoU-aware losses such as CEI address).

Regression: a noisy proposal around a target box (a quarter of them far off, some not overlapping at all);
the features are a noisy, saturating view of the normalized deltas from proposal to target, so a regressor
only partly recovers them and the IoUs it reaches spread over 0.5..0.95 like a real detector's.

The *world* (class prototypes, the quality direction, the regression feature map) depends only on the
seed, so a seed's train, val and D_verify sets are drawn from the same task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "DELTA_STDS",
    "ClsData",
    "ClsWorld",
    "RegData",
    "RegWorld",
    "decode_deltas",
    "encode_deltas",
    "make_cls_data",
    "make_cls_world",
    "make_reg_data",
    "make_reg_world",
    "seed_for",
]

#: mmdet's ``target_stds`` for (dx, dy, dw, dh): the regressor predicts deltas divided by these
DELTA_STDS = (0.1, 0.1, 0.2, 0.2)


# ---- classification -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClsWorld:
    """What every classification split of one seed shares."""

    num_classes: int
    feat_dim: int
    prototypes: torch.Tensor  # (C, D) class appearance directions
    align: torch.Tensor  # (D,) class-agnostic localization-quality direction
    pos_iou: tuple[float, float]  # IoU range of positive boxes
    pos_fraction: float
    boxes_per_object: int
    signal: float
    align_signal: float
    noise: float
    iou_share: float
    vis_spread: float
    hard_fraction: float


@dataclass(frozen=True)
class ClsData:
    """One split: features, labels (``num_classes`` = background), each box's IoU with its object, and the
    object each positive box covers (``group``; negatives each have a group of their own)."""

    feats: torch.Tensor  # (N, D) float32
    labels: torch.Tensor  # (N,) int64 in 0..C, C = background
    iou: torch.Tensor  # (N,) float32; 0 for easy negatives
    group: torch.Tensor  # (N,) int64 object id; boxes of one object are merged by NMS at test time
    num_classes: int

    @property
    def positive(self) -> torch.Tensor:
        """Mask of the samples that cover an object (non-background)."""
        return self.labels < self.num_classes

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_cls_world(
    seed: int,
    num_classes: int,
    feat_dim: int,
    *,
    pos_iou: tuple[float, float],
    pos_fraction: float,
    boxes_per_object: int = 3,
    signal: float = 4.0,
    align_signal: float = 4.0,
    noise: float = 1.0,
    iou_share: float = 0.8,
    vis_spread: float = 0.35,
    hard_fraction: float = 0.5,
) -> ClsWorld:
    """The seed's prototypes and quality direction. Prototypes of neighbouring classes are correlated.

    Args:
        pos_iou: IoU range of positive boxes (uniform).
        pos_fraction: share of positive boxes.
        boxes_per_object: positive boxes per object (duplicates that NMS merges at test time).
        signal: strength of the class appearance in the features.
        align_signal: strength of the localization-quality cue.
        noise: feature noise (per dimension).
        iou_share: how much of the class appearance fades with a worse box (0: none, 1: proportional to IoU).
        vis_spread: log-normal spread of an object's visibility.
        hard_fraction: share of the negatives that are low-IoU boxes on an object (the rest cover nothing).
    """
    g = torch.Generator().manual_seed(seed_for(seed, 11))
    base = torch.randn(num_classes, feat_dim, generator=g)
    # class c looks a bit like class c+1 (confusable pairs, as real categories are)
    protos = base + 0.5 * base.roll(-1, dims=0)
    protos = protos / protos.norm(dim=1, keepdim=True)
    align = torch.randn(feat_dim, generator=g)
    align = align / align.norm()
    return ClsWorld(
        num_classes, feat_dim, protos, align, pos_iou, pos_fraction, boxes_per_object,
        signal, align_signal, noise, iou_share, vis_spread, hard_fraction,
    )  # fmt: skip


def make_cls_data(world: ClsWorld, seed: int, split: int, size: int) -> ClsData:
    """``size`` boxes: ``pos_fraction`` positives (objects spread evenly over the classes); of the negatives,
    ``hard_fraction`` are hard (low-IoU boxes on an object), the rest easy (on nothing).

    Features = visibility * (1 - s + s * IoU) * prototype(class) + quality cue * align + noise. The quality cue
    tells a positive box's IoU but shows a random value on a negative box (tight around a part, or around
    nothing), so classifying positive vs. negative does not need it -- only ranking the better-localized of an
    object's boxes first does, which is what IoU-aware losses reward at high IoU thresholds.
    ``split`` tells apart the train / val / verify sets of a seed.
    """
    g = torch.Generator().manual_seed(seed_for(seed, 101 + split))
    c, k = world.num_classes, world.boxes_per_object
    n_obj = max(c, round(size * world.pos_fraction / k))
    n_pos = n_obj * k
    n_neg = max(size - n_pos, 0)
    n_hard = round(n_neg * world.hard_fraction)
    n_easy = n_neg - n_hard
    lo, hi = world.pos_iou

    obj_of_box = torch.arange(n_obj).repeat_interleave(k)
    pos_cls = (torch.arange(n_obj) % c)[obj_of_box]
    pos_q = lo + (hi - lo) * torch.rand(n_pos, generator=g)
    pos_vis = torch.exp(world.vis_spread * torch.randn(n_obj, generator=g))[obj_of_box]
    hard_cls = torch.randint(0, c, (n_hard,), generator=g)
    hard_q = 0.1 + (lo - 0.1) * torch.rand(n_hard, generator=g)
    hard_vis = torch.exp(world.vis_spread * torch.randn(n_hard, generator=g))

    obj_cls = torch.cat([pos_cls, hard_cls])  # class of the object each box sees
    obj_q = torch.cat([pos_q, hard_q])
    fit = 1.0 - world.iou_share + world.iou_share * obj_q
    appearance = (world.signal * torch.cat([pos_vis, hard_vis]) * fit).unsqueeze(1) * world.prototypes[obj_cls]
    cue_q = torch.cat([pos_q, lo + (hi - lo) * torch.rand(n_neg, generator=g)])
    cue = world.align_signal * (cue_q - (lo + hi) / 2) / (hi - lo)
    feats = torch.cat([appearance, torch.zeros(n_easy, world.feat_dim)]) + cue.unsqueeze(1) * world.align
    feats = feats + world.noise * torch.randn(n_pos + n_neg, world.feat_dim, generator=g)

    labels = torch.cat([pos_cls, torch.full((n_neg,), c, dtype=torch.long)])
    iou = torch.cat([obj_q, torch.zeros(n_easy)])
    group = torch.cat([obj_of_box, n_obj + torch.arange(n_neg)])
    perm = torch.randperm(n_pos + n_neg, generator=g)
    return ClsData(
        feats[perm].contiguous(), labels[perm].contiguous(), iou[perm].contiguous(), group[perm].contiguous(), c
    )


# ---- regression ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegWorld:
    """What every regression split of one seed shares."""

    feat_dim: int
    mixing: torch.Tensor  # (4, D): normalized deltas -> features
    noise: float
    far_fraction: float


@dataclass(frozen=True)
class RegData:
    """One split: proposals, targets (x1, y1, x2, y2 in pixels) and the proposals' features."""

    feats: torch.Tensor  # (N, D)
    proposals: torch.Tensor  # (N, 4)
    targets: torch.Tensor  # (N, 4)

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def make_reg_world(seed: int, feat_dim: int, *, noise: float = 0.6, far_fraction: float = 0.25) -> RegWorld:
    """The seed's feature map from deltas to features."""
    g = torch.Generator().manual_seed(seed_for(seed, 13))
    mixing = torch.randn(4, feat_dim, generator=g) / math.sqrt(4.0)
    return RegWorld(feat_dim, mixing, noise, far_fraction)


def make_reg_data(world: RegWorld, seed: int, split: int, size: int) -> RegData:
    """``size`` (proposal, target) pairs; ``far_fraction`` of the proposals barely overlap (or miss) their target."""
    g = torch.Generator().manual_seed(seed_for(seed, 201 + split))
    n = size
    centre = 100.0 + 600.0 * torch.rand(n, 2, generator=g)
    wh = torch.exp(math.log(16.0) + (math.log(320.0) - math.log(16.0)) * torch.rand(n, 2, generator=g))
    targets = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)

    far = torch.rand(n, generator=g) < world.far_fraction
    shift_std = torch.where(far, 0.6, 0.15).unsqueeze(1)
    scale_std = torch.where(far, 0.45, 0.2).unsqueeze(1)
    p_centre = centre + shift_std * wh * torch.randn(n, 2, generator=g)
    p_wh = wh * torch.exp(scale_std * torch.randn(n, 2, generator=g))
    proposals = torch.cat([p_centre - p_wh / 2, p_centre + p_wh / 2], dim=1)

    deltas = encode_deltas(proposals, targets)
    feats = torch.tanh(0.5 * deltas) @ world.mixing * 2.0
    feats = feats + world.noise * torch.randn(n, world.feat_dim, generator=g)
    return RegData(feats.contiguous(), proposals, targets)


def encode_deltas(proposals: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Normalized (dx, dy, dw, dh) from proposals to targets (mmdet's DeltaXYWH with ``DELTA_STDS``)."""
    pc, pwh = (proposals[:, :2] + proposals[:, 2:]) / 2, proposals[:, 2:] - proposals[:, :2]
    tc, twh = (targets[:, :2] + targets[:, 2:]) / 2, targets[:, 2:] - targets[:, :2]
    d = torch.cat([(tc - pc) / pwh, torch.log(twh / pwh)], dim=1)
    return d / d.new_tensor(DELTA_STDS)


def decode_deltas(
    proposals: torch.Tensor, deltas: torch.Tensor, max_ratio: float = math.log(1000.0 / 16)
) -> torch.Tensor:
    """Boxes (x1, y1, x2, y2) from proposals and normalized deltas; differentiable in ``deltas``."""
    d = deltas * deltas.new_tensor(DELTA_STDS)
    pc, pwh = (proposals[:, :2] + proposals[:, 2:]) / 2, proposals[:, 2:] - proposals[:, :2]
    c = pc + d[:, :2] * pwh
    wh = pwh * torch.exp(d[:, 2:].clamp(-max_ratio, max_ratio))
    return torch.cat([c - wh / 2, c + wh / 2], dim=1)


def seed_for(seed: int, salt: int) -> int:
    """A non-negative 63-bit generator seed from the user's seed (any int) and a per-purpose salt."""
    return (int(seed) * 1_000_003 + salt * 7_919) % (2**63 - 1)
