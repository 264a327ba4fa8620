"""Training hooks for candidate evaluation."""

from __future__ import annotations

import math
from typing import Any

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ["CurveRecorderHook", "NonFiniteLossError", "NonFiniteLossHook"]


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


@HOOKS.register_module()
class CurveRecorderHook(Hook):
    """Record the training loss terms of every iteration and the validation metrics of every epoch, and write
    them as JSON to ``path`` when the run ends (rank 0): ``{"train": [{"iter", "epoch", "loss", ...}],
    "val": [{"epoch", "coco/bbox_mAP", ...}]}``."""

    priority = "LOW"

    def __init__(self, path: str) -> None:
        self.path = path
        self.train: list[dict[str, float]] = []
        self.val: list[dict[str, float]] = []

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Keep the iteration's logged loss terms."""
        row: dict[str, float] = {"iter": runner.iter + 1, "epoch": runner.epoch + 1}
        for name, value in (outputs or {}).items():
            if "loss" in name:
                try:
                    row[name] = float(value)
                except (TypeError, ValueError):
                    continue
        self.train.append(row)

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Keep the epoch's validation metrics."""
        row = {"epoch": runner.epoch}
        row.update({k: float(v) for k, v in (metrics or {}).items() if isinstance(v, (int, float))})
        self.val.append(row)

    def after_run(self, runner: Any) -> None:
        """Write the curves (rank 0 only)."""
        import json

        from mmengine.dist import is_main_process

        if is_main_process():
            with open(self.path, "w", encoding="utf-8") as fh:
                json.dump({"train": self.train, "val": self.val}, fh)
