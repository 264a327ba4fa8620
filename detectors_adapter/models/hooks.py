"""Training hooks for candidate evaluation."""

from __future__ import annotations

import math
from typing import Any

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ["CurveRecorderHook", "NonFiniteLossError", "NonFiniteLossHook", "ProxyBudgetHook", "rng_state", "set_rng_state"]


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


#: version of the files :class:`ProxyBudgetHook` writes
STATE_FORMAT = 1


def _unwrap(model: Any) -> Any:
    return model.module if hasattr(model, "module") else model


def rng_state() -> dict[str, Any]:
    """The process's random states (python ``random``, numpy's global generator, torch CPU and CUDA), as tensors,
    ints and floats only: a file of them loads with ``torch.load(weights_only=True)``."""
    import random

    import numpy as np
    import torch

    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": torch.tensor(words, dtype=torch.int64), "python_version": int(version),
        "python_gauss": None if gauss is None else float(gauss),
        "numpy_kind": str(kind), "numpy": torch.from_numpy(np.asarray(keys).astype(np.int64)), "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss), "numpy_gauss": float(cached),
        "torch": torch.get_rng_state(),
    }  # fmt: skip
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    import random

    import numpy as np
    import torch

    random.setstate((int(state["python_version"]), tuple(int(w) for w in state["python"].tolist()),
                     state["python_gauss"]))  # fmt: skip
    np.random.set_state((state["numpy_kind"], state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"]),
                         int(state["numpy_has_gauss"]), float(state["numpy_gauss"])))  # fmt: skip
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def _scheduler_states(schedulers: Any) -> Any:
    if schedulers is None:
        return None
    if isinstance(schedulers, dict):
        return {name: [s.state_dict() for s in group] for name, group in schedulers.items()}
    return [s.state_dict() for s in schedulers]


def _load_scheduler_states(schedulers: Any, states: Any) -> None:
    if schedulers is None:
        return
    if isinstance(schedulers, dict):
        for name, group in schedulers.items():
            for sched, sd in zip(group, states[name], strict=True):
                sched.load_state_dict(sd)
    else:
        for sched, sd in zip(schedulers, states, strict=True):
            sched.load_state_dict(sd)


@HOOKS.register_module()
class ProxyBudgetHook(Hook):
    """Train only the epochs ``[start, stop_epoch)`` of the run's schedule, continuing from a saved state.

    ``before_train`` (after :class:`~detectors_adapter.models.pretrained.LoadPretrainedHook`, before the first
    iteration): the first of ``states`` that loads (``torch.load(weights_only=True)``) and fits the run -- the same
    model tensors, optimizer groups, schedulers and ranks, at most ``stop_epoch`` epochs -- restores the model,
    optimizer and param-scheduler states, the loop's epoch and iteration counters and the random states; a damaged
    or unfitting one is skipped with a warning (none: the run starts from the beginning, untouched). The
    schedulers keep the whole run's ``max_epochs``, so the continued epochs are those of one long run.
    ``after_train_epoch`` of epoch ``stop_epoch``: the loop stops. ``after_train`` (rank 0): when it trained
    epochs, the state goes to ``out`` atomically (a temporary file renamed). What it did is in :attr:`summary`.

    A state is a plain dict of tensors and numbers: ``format``, ``epoch``, ``iter``, ``max_epochs``, ``model``
    (``state_dict``), ``optimizer`` (the optim wrapper's ``state_dict``), ``param_schedulers`` (their
    ``state_dict`` s, as the runner holds them) and ``rng`` (one :func:`rng_state` per rank).
    """

    priority = "VERY_HIGH"

    def __init__(self, stop_epoch: int | None = None, states: list[str] | tuple[str, ...] = (),
                 out: str | None = None) -> None:  # fmt: skip
        self.stop_epoch = stop_epoch
        self.states = list(states)
        self.out = out
        #: ``start_epoch``/``start_iter`` (0 when nothing was loaded), ``loaded`` (the file or ``None``),
        #: ``skipped`` (``[file, reason]`` of states not used), ``saved`` (the file or ``None``)
        self.summary: dict[str, Any] = {"start_epoch": 0, "start_iter": 0, "loaded": None, "skipped": [],
                                        "saved": None}  # fmt: skip

    def _stop(self, runner: Any) -> int:
        loop = runner.train_loop
        return loop.max_epochs if self.stop_epoch is None else min(int(self.stop_epoch), loop.max_epochs)

    # ---- state -------------------------------------------------------------------------------------------
    def _state(self, runner: Any, rng: Any) -> dict[str, Any]:
        loop = runner.train_loop
        return {"format": STATE_FORMAT, "epoch": int(loop.epoch), "iter": int(loop.iter),
                "max_epochs": int(loop.max_epochs), "model": _unwrap(runner.model).state_dict(),
                "optimizer": runner.optim_wrapper.state_dict(),
                "param_schedulers": _scheduler_states(runner.param_schedulers), "rng": rng}  # fmt: skip

    def _check(self, runner: Any, state: Any) -> None:
        """Raise ``ValueError`` unless ``state`` fits this run."""
        from mmengine.dist import get_world_size

        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a train state of this format")
        loop = runner.train_loop
        epoch = int(state["epoch"])
        if int(state["max_epochs"]) != loop.max_epochs:
            raise ValueError(f"it is of a {state['max_epochs']}-epoch schedule, this run's has {loop.max_epochs}")
        if not 0 < epoch <= self._stop(runner):
            raise ValueError(f"it holds {epoch} epochs, this run stops after {self._stop(runner)}")
        own = _unwrap(runner.model).state_dict()
        model = state["model"]
        if set(model) != set(own) or any(tuple(model[k].shape) != tuple(v.shape) for k, v in own.items()):
            raise ValueError("its model tensors differ from this model's")
        mine = _scheduler_states(runner.param_schedulers)
        theirs = state["param_schedulers"]
        if (mine is None) != (theirs is None) or (mine is not None and (
                (sorted(mine) != sorted(theirs)) if isinstance(mine, dict) else len(mine) != len(theirs))):
            raise ValueError("its param schedulers differ from this run's")  # fmt: skip
        if len(state["rng"]) != get_world_size():
            raise ValueError(f"it was trained by {len(state['rng'])} ranks, this run has {get_world_size()}")

    def _apply(self, runner: Any, state: dict[str, Any]) -> None:
        from mmengine.dist import get_rank

        loop = runner.train_loop
        _unwrap(runner.model).load_state_dict(state["model"], strict=True)
        runner.optim_wrapper.load_state_dict(state["optimizer"])
        _load_scheduler_states(runner.param_schedulers, state["param_schedulers"])
        loop._epoch, loop._iter = int(state["epoch"]), int(state["iter"])
        set_rng_state(state["rng"][get_rank()])
        runner.optim_wrapper.initialize_count_status(runner.model, loop.iter, loop.max_iters)

    def _snapshot(self, runner: Any) -> dict[str, Any]:
        import copy

        from mmengine.dist import get_world_size

        state = copy.deepcopy(self._state(runner, None))
        state["rng"] = [rng_state()] * get_world_size()
        return state

    # ---- hook points -------------------------------------------------------------------------------------
    def before_train(self, runner: Any) -> None:
        """Continue from the first state of :attr:`states` that loads and fits (see the class docstring)."""
        import torch

        for path in self.states:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                self._check(runner, state)
            except Exception as exc:  # noqa: BLE001 - a damaged or unfitting state is trained again
                self._skip(runner, path, exc)
                continue
            before = self._snapshot(runner)
            try:
                self._apply(runner, state)
            except Exception as exc:  # noqa: BLE001
                self._apply(runner, before)
                self._skip(runner, path, exc)
                continue
            self.summary.update(start_epoch=int(state["epoch"]), start_iter=int(state["iter"]), loaded=str(path))
            runner.logger.info(f"continuing from {path}: epoch {state['epoch']}, iteration {state['iter']}")
            break
        if runner.train_loop.epoch >= self._stop(runner):
            runner.train_loop.stop_training = True

    def _skip(self, runner: Any, path: str, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        self.summary["skipped"].append([str(path), reason])
        runner.logger.warning(f"train state {path} not used ({reason}); training it again")

    def after_train_epoch(self, runner: Any) -> None:
        """Stop the loop after epoch ``stop_epoch`` (``runner.epoch`` counts the epochs before this one)."""
        if runner.epoch + 1 >= self._stop(runner):
            runner.train_loop.stop_training = True

    def after_train(self, runner: Any) -> None:
        """Save the state to :attr:`out` (rank 0; every rank's random state), when this run trained epochs."""
        import os
        from pathlib import Path

        import torch
        from mmengine.dist import all_gather_object, is_main_process

        loop = runner.train_loop
        if self.out is None or loop.epoch <= self.summary["start_epoch"]:
            return
        rng = all_gather_object(rng_state())
        if not is_main_process():
            return
        out = Path(self.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            torch.save(self._state(runner, rng), tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        self.summary["saved"] = str(out)
        runner.logger.info(f"train state after epoch {loop.epoch} saved to {out}")
