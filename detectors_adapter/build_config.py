"""Turn a :class:`~detectors_adapter.spec.TrainSpec` into an mmengine ``Config`` (runs in the training process).

From the detector's config file it: points the train and test datasets at the spec's annotation files and
image directories (classes from the annotations), puts ``GPLoss(candidate)`` into the searched branch (the
other branch keeps its fixed loss unless ``other_formula`` is given), rescales the epoch-based schedule to the
spec's epochs, turns off validation during training (``curves``: validates every epoch and records the
curves instead), checkpoints and visualization, routes a ResNet's frozen stages through the per-image cache
(``spec.frozen_cache``), and adds the
:class:`~detectors_adapter.models.hooks.NonFiniteLossHook`.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from mmengine.config import Config, ConfigDict

import detectors_adapter.models  # noqa: F401  (registers GPLoss, the heads and the hook)
from detectors_adapter.detectors import Detector, get_detector
from detectors_adapter.spec import TrainSpec
from gp_autoloss.errors import ConfigError

__all__ = ["build_config", "gp_loss_cfg"]


def gp_loss_cfg(formula: str, space: str, old: dict[str, Any] | None) -> dict[str, Any]:
    """A ``GPLoss`` config replacing the loss config ``old`` (its ``loss_weight`` and focal ``alpha`` kept)."""
    old = old or {}
    cfg: dict[str, Any] = {"type": "GPLoss", "formula": formula, "space": space,
                           "loss_weight": float(old.get("loss_weight", 1.0))}
    if space == "sigmoid_cls":
        cfg.update(use_sigmoid=True, alpha=float(old.get("alpha", 0.25)))
    return cfg


def _head(cfg: Config, det: Detector) -> ConfigDict:
    node: Any = cfg.get("model")
    for key in det.head:
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"config has no model.{'.'.join(det.head)} for detector {det.name!r}")
        node = node[key]
    return node


def _inner_dataset(loader: Any, key: str) -> ConfigDict:
    if not isinstance(loader, dict) or not isinstance(loader.get("dataset"), dict):
        raise ConfigError(f"config has no {key}.dataset")
    ds = loader["dataset"]
    while isinstance(ds.get("dataset"), dict):  # RepeatDataset / ClassBalancedDataset wrappers
        ds = ds["dataset"]
    return ds


def _set_data(cfg: Config, spec: TrainSpec, det: Detector) -> None:
    classes = tuple(spec.classes)
    for key, ann, images in (("train_dataloader", spec.train_ann, spec.train_images),
                             ("test_dataloader", spec.test_ann, spec.test_images)):
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            raise ConfigError(f"config has no {key}")
        cfg[key] = loader = ConfigDict(copy.deepcopy(dict(loader)))  # test_dataloader may alias val_dataloader
        ds = _inner_dataset(loader, key)
        ds.update(data_root="", ann_file=ann, data_prefix={"img": str(images).rstrip("/") + "/"},
                  metainfo={"classes": classes})
    if spec.repeat > 1:
        cfg.train_dataloader.dataset = {"type": "RepeatDataset", "times": int(spec.repeat),
                                        "dataset": cfg.train_dataloader.dataset}
    if spec.batch_size is not None:
        cfg.train_dataloader.batch_size = int(spec.batch_size)
    evaluator = cfg.get("test_evaluator") or {}
    evaluator = dict(evaluator) if isinstance(evaluator, dict) else {}
    if evaluator.get("type", "CocoMetric") != "CocoMetric":
        evaluator = {}
    evaluator.update(type="CocoMetric", ann_file=spec.test_ann, metric="bbox", format_only=False)
    cfg.test_evaluator = evaluator
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    cfg.val_cfg = None
    _head(cfg, det).num_classes = len(classes)


def _set_losses(cfg: Config, spec: TrainSpec, det: Detector) -> None:
    head = _head(cfg, det)
    if spec.formula is not None:
        branch = det.branch(spec.space)
        head[branch] = gp_loss_cfg(spec.formula, spec.space, head.get(branch))
    if spec.other_formula is not None:
        other = det.other_space(spec.space)
        branch = det.branch(other)
        head[branch] = gp_loss_cfg(spec.other_formula, other, head.get(branch))


def _images_per_iteration(cfg: Config, spec: TrainSpec) -> int:
    """Training images per iteration over all ranks (the config's batch size is per rank)."""
    return int(cfg.train_dataloader.get("batch_size", 1)) * max(spec.nproc, 1)


def _set_schedule(cfg: Config, spec: TrainSpec) -> None:
    train_cfg = cfg.get("train_cfg") or {}
    if train_cfg.get("type", "EpochBasedTrainLoop") != "EpochBasedTrainLoop" or "max_epochs" not in train_cfg:
        raise ConfigError("the detector config needs an epoch-based train_cfg with max_epochs")
    if spec.epochs < 1:
        raise ConfigError(f"epochs must be >= 1, not {spec.epochs}")
    old_epochs = int(train_cfg["max_epochs"])
    cfg.train_cfg = {"type": "EpochBasedTrainLoop", "max_epochs": spec.epochs, "val_interval": spec.epochs}
    factor = spec.epochs / max(old_epochs, 1)
    batch = _images_per_iteration(cfg, spec)
    total_iters = spec.epochs * math.ceil((spec.train_size or batch) * max(spec.repeat, 1) / batch)
    schedulers = cfg.get("param_scheduler") or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    for sched in schedulers:
        if sched.get("by_epoch", True):
            end = sched.get("end", old_epochs)
            sched["end"] = max(1, round(min(end, old_epochs) * factor))
            sched["begin"] = min(round(sched.get("begin", 0) * factor), sched["end"] - 1)
            if "milestones" in sched:
                sched["milestones"] = [max(1, round(m * factor)) for m in sched["milestones"]]
            if "T_max" in sched:
                sched["T_max"] = max(1, round(sched["T_max"] * factor))
        elif "end" in sched:  # iteration-based warm-up: at most a quarter of a short run
            sched["end"] = max(1, min(int(sched["end"]), total_iters // 4))
    cfg.param_scheduler = schedulers
    if spec.lr is not None:
        cfg.optim_wrapper.optimizer.lr = float(spec.lr)
    if spec.frozen_stages is not None:
        backbone = cfg.get("model", {}).get("backbone")
        if not isinstance(backbone, dict):
            raise ConfigError("frozen_stages asked for, but the config has no model.backbone")
        backbone["frozen_stages"] = int(spec.frozen_stages)


#: backbone types :class:`~detectors_adapter.models.frozen_cache.FrozenCacheResNet` stands in for
_CACHEABLE_BACKBONES = ("ResNet", "mmdet.ResNet")


def _set_frozen_cache(cfg: Config, spec: TrainSpec) -> None:
    """A ResNet backbone with frozen stages computes them through the shared per-image cache."""
    backbone = cfg.get("model", {}).get("backbone")
    if not spec.frozen_cache or not isinstance(backbone, dict) or backbone.get("type") not in _CACHEABLE_BACKBONES:
        return
    if int(backbone.get("frozen_stages", -1)) < 0:
        return
    backbone["type"] = "FrozenCacheResNet"
    backbone["cache_dir"] = str(spec.frozen_cache)


def _set_runtime(cfg: Config, spec: TrainSpec) -> None:
    cfg.work_dir = spec.work_dir
    hooks = cfg.get("default_hooks") or ConfigDict()
    hooks.checkpoint = None  # mmengine drops a default hook set to None
    hooks.pop("visualization", None)  # not a default hook: remove it
    batch = _images_per_iteration(cfg, spec)
    per_epoch = math.ceil((spec.train_size or 10) * max(spec.repeat, 1) / batch)
    hooks.logger = {"type": "LoggerHook", "interval": max(1, min(10, per_epoch))}
    cfg.default_hooks = hooks
    custom = [h for h in (cfg.get("custom_hooks") or []) if h.get("type") != "NonFiniteLossHook"]
    cfg.custom_hooks = [*custom, {"type": "NonFiniteLossHook"}]
    if spec.pretrained:
        cfg.custom_hooks.append({"type": "LoadPretrainedHook", "checkpoint": str(spec.pretrained),
                                 "prefixes": list(spec.pretrained_prefixes)})
    if spec.trace_batches:
        cfg.custom_hooks.append({"type": "BatchTraceHook", "path": str(Path(spec.work_dir) / "batches.json")})
    if spec.stop_epoch is not None or spec.states_in or spec.state_out:
        if spec.stop_epoch is not None and not 1 <= spec.stop_epoch <= spec.epochs:
            raise ConfigError(f"stop_epoch must be in 1..{spec.epochs} (the epochs), not {spec.stop_epoch}")
        cfg.custom_hooks.append({"type": "ProxyBudgetHook", "stop_epoch": spec.stop_epoch,
                                 "states": list(spec.states_in), "out": spec.state_out})  # fmt: skip
    cfg.randomness = {"seed": int(spec.seed), "deterministic": False}
    cfg.load_from = None
    cfg.resume = False
    cfg.launcher = "pytorch" if spec.nproc > 1 else "none"  # train_one starts the ranks with torchrun
    if spec.nproc > 1:
        env_cfg = cfg.get("env_cfg") or ConfigDict()
        on_gpu = spec.device.startswith("cuda")
        env_cfg["dist_cfg"] = {"backend": "nccl" if on_gpu else "gloo"}
        cfg.env_cfg = env_cfg
        if not on_gpu:
            cfg.model_wrapper_cfg = {"type": "CPUDistributedDataParallel", "broadcast_buffers": False}
    imports = list((cfg.get("custom_imports") or {}).get("imports", []))
    if "detectors_adapter.models" not in imports:
        cfg.custom_imports = {"imports": [*imports, "detectors_adapter.models"], "allow_failed_imports": False}


def _record_curves(cfg: Config, spec: TrainSpec) -> None:
    """Validate on the test split after every epoch and record loss and metric curves (``curves.json``)."""
    cfg.val_dataloader = copy.deepcopy(cfg.test_dataloader)
    cfg.val_evaluator = copy.deepcopy(cfg.test_evaluator)
    cfg.val_cfg = {"type": "ValLoop"}
    cfg.train_cfg.val_interval = 1
    cfg.custom_hooks = [*cfg.custom_hooks, {"type": "CurveRecorderHook", "path": str(Path(spec.work_dir) / "curves.json")}]


def build_config(spec: TrainSpec) -> Config:
    """The mmengine config of one evaluation run (see the module docstring)."""
    det = get_detector(spec.detector)
    path = Path(spec.config) if spec.config else det.config_path
    if not path.is_file():
        raise ConfigError(f"detector config not found: {path}")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse/import problem of a user config is a config error
        raise ConfigError(f"cannot load config {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    _set_data(cfg, spec, det)
    _set_losses(cfg, spec, det)
    _set_schedule(cfg, spec)
    _set_frozen_cache(cfg, spec)
    _set_runtime(cfg, spec)
    if spec.curves:
        _record_curves(cfg, spec)
    if spec.cfg_options:
        try:
            cfg.merge_from_dict(dict(spec.cfg_options))
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"bad cfg_options {spec.cfg_options}: {exc}") from None
    return cfg
