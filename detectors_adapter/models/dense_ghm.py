"""mmdet's GHM-C loss with the call a dense head makes: ``loss(pred, labels, avg_factor=...)``."""

from __future__ import annotations

from typing import Any

import torch
from mmdet.models.losses import GHMC
from mmdet.registry import MODELS

__all__ = ["DenseGHMCLoss"]


@MODELS.register_module()
class DenseGHMCLoss(GHMC):
    """GHM-C (Li et al., AAAI 2019) for FCOS-style heads, which call the classification loss without label
    weights: every element weighs 1 (or ``weight`` when given). GHM-C normalizes by its own valid count, so
    ``avg_factor`` is not used. Same arguments as mmdet's ``GHMC``."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None,
                **kwargs: Any) -> torch.Tensor:  # fmt: skip
        """GHM-C of ``pred`` (N, C) logits against ``target`` labels (N,) (background = C) or one-hot (N, C)."""
        label_weight = torch.ones_like(target, dtype=pred.dtype) if weight is None else weight
        return super().forward(pred, target, label_weight, reduction_override=reduction_override)
