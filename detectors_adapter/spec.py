"""What one isolated training run needs, as a JSON-serializable record (no mmdet import)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gp_autoloss.errors import ConfigError

__all__ = ["TrainSpec"]


@dataclass
class TrainSpec:
    """One training + test run of a detector with a candidate loss in one branch.

    Attributes:
        detector: a name of :data:`detectors_adapter.detectors.DETECTORS`.
        space: the searched branch's space; ``formula`` (DEAP prefix) is its loss.
        formula: the candidate, or ``None`` to train with the config's own losses.
        other_formula: replaces the other branch's fixed loss with a ``GPLoss`` when given.
        train_ann, train_images, test_ann, test_images: absolute annotation files and image directories.
        classes: category names in id order.
        epochs: training epochs.
        work_dir: the run's own directory; ``result`` the JSON file the run writes.
        seed: mmengine randomness seed; ``device``: ``cpu`` or ``cuda``; ``threads``: torch CPU threads.
        batch_size, lr: overrides of the config's values.
        config: another mmengine config file instead of the detector's.
        cfg_options: ``{"dotted.key": value}`` overrides applied last.
        train_size: number of training images (sizes the warm-up of short runs).
        repeat: passes over the training images per epoch (mmengine ``RepeatDataset``): tiny sets such as
            D_verify train as one long epoch instead of many one-iteration epochs.
        nproc: training processes (mmengine's distributed launcher, one per GPU with ``device`` ``cuda``;
            ``gloo`` on CPU); the batch size is per process.
        curves: validate on the test split after every epoch and return the training-loss and mAP curves.
        pretrained: a plain tensor state dict loaded before the first iteration (the tiny detectors'
            pretrained backbone and neck); ``pretrained_prefixes``: the key prefixes that must all be in it.
        frozen_stages: override of the backbone's ``frozen_stages`` (a pretrained start's fine-tuning, see
            :class:`~detectors_adapter.pretrained_weights.FineTuning`).
        trace_batches: record the image ids and flips of every training batch (``result["batches"]``).
        stop_epoch: train only the epochs up to this one of the ``epochs`` schedule (the schedulers keep all
            ``epochs``), then test (a proxy budget); ``None``: all of them.
        states_in: train states (files of :class:`~detectors_adapter.models.hooks.ProxyBudgetHook`) to continue
            from, the preferred first: the first that loads and fits the run is used; none: train from the start.
        state_out: where the state after ``stop_epoch`` is saved (atomically); ``None``: nowhere.
        frozen_cache: a folder: a ResNet backbone with frozen stages becomes
            :class:`~detectors_adapter.models.frozen_cache.FrozenCacheResNet` caching them there; ``None``: not.
    """

    detector: str
    space: str
    formula: str | None
    train_ann: str
    train_images: str
    test_ann: str
    test_images: str
    classes: list[str]
    epochs: int
    work_dir: str
    result: str
    other_formula: str | None = None
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    config: str | None = None
    cfg_options: dict[str, Any] = field(default_factory=dict)
    train_size: int | None = None
    repeat: int = 1
    nproc: int = 1
    curves: bool = False
    pretrained: str | None = None
    pretrained_prefixes: list[str] = field(default_factory=lambda: ["backbone."])
    frozen_stages: int | None = None
    trace_batches: bool = False
    stop_epoch: int | None = None
    states_in: list[str] = field(default_factory=list)
    state_out: str | None = None
    frozen_cache: str | None = None

    def dump(self, path: str | Path) -> Path:
        """Write the spec as JSON."""
        out = Path(path)
        out.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> TrainSpec:
        """Read a spec written by :meth:`dump`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read training spec {path}: {exc}") from None
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"training spec {path}: unknown fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"training spec {path}: {exc}") from None
