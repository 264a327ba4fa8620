"""Hooks that make candidate trainings comparable: a pretrained start and a record of the batches seen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from detectors_adapter.pretrained_weights import read_state_dict
from gp_autoloss.errors import ConfigError

__all__ = ["BatchTraceHook", "LoadPretrainedHook", "load_pretrained"]


def _unwrap(model: Any) -> Any:
    return model.module if hasattr(model, "module") else model


def load_pretrained(model: Any, checkpoint: str | Path, prefixes: tuple[str, ...] = ("backbone.",)) -> dict[str, int]:
    """Copy the checkpoint's tensors into ``model`` (a plain ``{key: tensor}`` file, read ``weights_only``).

    Exactly the parameters and buffers of ``model`` under ``prefixes`` are loaded, and every one of them must
    be in the checkpoint with the same shape. Raises :class:`ConfigError` naming the problem (a missing or
    unreadable file, a missing or misshapen key); returns ``{"loaded": n, "required": n}``.
    """
    import torch

    path = Path(checkpoint)
    state = read_state_dict(path)
    own = _unwrap(model).state_dict()
    required = [k for k in own if k.startswith(prefixes)]
    missing = [k for k in required if k not in state]
    if missing:
        raise ConfigError(f"pretrained checkpoint {path} lacks {len(missing)} of the model's {len(required)} "
                          f"{'/'.join(p.rstrip('.') for p in prefixes)} tensors (first: {missing[0]})")
    bad = [k for k in required if state[k].shape != own[k].shape]
    if bad:
        raise ConfigError(f"pretrained checkpoint {path}: {bad[0]} has shape {tuple(state[bad[0]].shape)}, "
                          f"the model's {tuple(own[bad[0]].shape)}")
    with torch.no_grad():
        for key in required:
            own[key].copy_(state[key])
    return {"loaded": len(required), "required": len(required)}


@HOOKS.register_module()
class LoadPretrainedHook(Hook):
    """Load a pretrained backbone (and neck) before the first iteration, after mmengine's ``init_weights``.

    Weights loaded into the model before ``Runner.train()`` would be overwritten by its weight
    initialisation; ``before_train`` runs after it. The file is a plain tensor state dict, so torch's
    ``weights_only`` loading reads it (mmengine's own checkpoints fail there with torch >= 2.6).
    """

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str, prefixes: tuple[str, ...] | list[str] = ("backbone.",)) -> None:
        self.checkpoint = checkpoint
        self.prefixes = tuple(prefixes)
        self.summary: dict[str, int] = {}

    def before_train(self, runner: Any) -> None:
        """Load the checkpoint; a missing, unreadable or mismatched one raises :class:`ConfigError`."""
        self.summary = load_pretrained(runner.model, self.checkpoint, self.prefixes)
        runner.logger.info(f"pretrained weights from {self.checkpoint}: {self.summary['loaded']} tensors "
                           f"({self.summary['required']} required)")


@HOOKS.register_module()
class BatchTraceHook(Hook):
    """Record which images (and flips) every training iteration saw; written as JSON to ``path`` at the end.

    Two candidates trained under one evaluation seed must see identical batches (common random numbers):
    the trace shows it.
    """

    priority = "LOW"

    def __init__(self, path: str) -> None:
        self.path = path
        self.batches: list[list[list[Any]]] = []

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Keep ``[image id, flipped, flip direction]`` of each sample of the batch."""
        samples = (data_batch or {}).get("data_samples") or []
        row = []
        for sample in samples:
            meta = getattr(sample, "metainfo", {}) or {}
            row.append([meta.get("img_id"), bool(meta.get("flip", False)), meta.get("flip_direction")])
        self.batches.append(row)

    def after_run(self, runner: Any) -> None:
        """Write the trace (rank 0 only)."""
        from mmengine.dist import is_main_process

        if is_main_process():
            Path(self.path).write_text(json.dumps(self.batches), encoding="utf-8")
