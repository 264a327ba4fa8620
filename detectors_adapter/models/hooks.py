"""Training hooks for candidate evaluation."""

from __future__ import annotations

import math
from typing import Any

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ["NonFiniteLossError", "NonFiniteLossHook"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first iteration whose loss (or any logged loss term) is NaN or infinite."""

    priority = "VERY_HIGH"

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Raise :class:`NonFiniteLossError` naming the loss terms that are not finite."""
        if not outputs:
            return
        bad = []
        for name, value in outputs.items():
            if "loss" not in name:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                bad.append(f"{name}={number}")
        if bad:
            raise NonFiniteLossError(f"non-finite loss at epoch {runner.epoch + 1} iter {runner.iter + 1}: "
                                     + ", ".join(bad))
