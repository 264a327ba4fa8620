"""Train and test one detector with one candidate loss: the isolated process of an mmdet evaluation.

    python -m detectors_adapter.train_one SPEC.json

Reads a :class:`~detectors_adapter.spec.TrainSpec`, trains, tests, and writes ``spec.result`` as JSON:
``{"status": "ok", "metric": bbox_mAP, ...}``, ``{"status": "failed", "reason": ...}`` (the candidate
diverged or crashed training; exit 3) or ``{"status": "config_error", "reason": ...}`` (exit 2).
Never writes checkpoints (but for a proxy budget's plain-tensor train state, ``spec.state_out``). Checkpoints a config loads (pretrained backbones) are read with
``weights_only=False`` semantics: mmengine 0.10 predates torch 2.6's ``weights_only=True`` default.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["main", "run_spec"]

EXIT_CONFIG = 2
EXIT_FAILED = 3


def _write(path: str, payload: dict[str, Any]) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def _one_line(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " | ")
    if not str(exc).strip() and exc.__traceback__ is not None:  # e.g. a bare assert: say where
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        text += f" at {Path(frame.filename).name}:{frame.lineno} ({frame.line})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _skip_yapf() -> None:
    """mmengine formats the whole config with yapf when it logs and dumps it (about 2 s per run, twice);
    in this throw-away process a plain ``pprint`` of the config serves the log as well."""
    import pprint

    from mmengine.config import Config

    Config.pretty_text = property(lambda cfg: pprint.pformat(cfg.to_dict(), width=120, sort_dicts=False))


def run_spec(spec: Any) -> dict[str, Any]:
    """Train and test as ``spec`` says; returns the result payload (``status`` ``"ok"``)."""
    import torch
    from mmengine.runner import Runner

    _skip_yapf()
    from detectors_adapter.build_config import build_config

    if spec.threads:
        torch.set_num_threads(int(spec.threads))
    cfg = build_config(spec)
    if spec.nproc > 1 and not spec.device.startswith("cuda"):
        from detectors_adapter.models.cpu_ddp import allow_cpu_ranks

        allow_cpu_ranks()
    runner = Runner.from_cfg(cfg)
    start, start_cpu = time.perf_counter(), time.process_time()
    runner.train()
    trained, trained_cpu = time.perf_counter(), time.process_time()
    curves_path = Path(spec.work_dir) / "curves.json"
    curves = json.loads(curves_path.read_text(encoding="utf-8")) if spec.curves and curves_path.is_file() else None
    if curves and curves["val"]:  # the last epoch's validation ran on the test split already
        metrics = {k: v for k, v in curves["val"][-1].items() if k != "epoch"}
    else:
        metrics = runner.test() or {}
    tested, tested_cpu = time.perf_counter(), time.process_time()
    metric = metrics.get("coco/bbox_mAP")
    try:
        last_loss = float(runner.message_hub.get_scalar("train/loss").current())
    except (KeyError, AttributeError, TypeError, ValueError):
        last_loss = None
    payload = {
        "status": "ok",
        # no detection at all: CocoMetric returns no mAP; the candidate scores 0
        "metric": float(metric) if metric is not None else 0.0,
        "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
        "iters": int(runner.iter),
        "last_loss": last_loss,
        "train_seconds": round(trained - start, 3),
        "test_seconds": round(tested - trained, 3),
        # this process's CPU seconds (a host that steals time from the machine stretches wall time, not these)
        "startup_cpu_seconds": round(start_cpu, 3),
        "train_cpu_seconds": round(trained_cpu - start_cpu, 3),
        "test_cpu_seconds": round(tested_cpu - trained_cpu, 3),
    }
    from detectors_adapter.models.hooks import ProxyBudgetHook

    budget = next((h for h in runner.hooks if isinstance(h, ProxyBudgetHook)), None)
    if budget is not None:
        payload["budget"] = {"stop_epoch": int(runner.train_loop.epoch), **budget.summary}
    if curves is not None:
        payload["curves"] = curves
    batches_path = Path(spec.work_dir) / "batches.json"
    if spec.trace_batches and batches_path.is_file():
        payload["batches"] = json.loads(batches_path.read_text(encoding="utf-8"))
    return payload


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the adapter process dies, so a killed search leaves no training behind."""
    parent = os.environ.get("GP_AUTOLOSS_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the parent died before prctl took effect
        os._exit(EXIT_FAILED)


def _is_rank_zero() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _launch_ranks(spec_path: str, nproc: int) -> int:
    """``spec.nproc > 1``: become torchrun (standalone, free port) for ``nproc`` ranks of this module.

    This process keeps the adapter's parent-death signal and is the ranks' parent, so a killed search still
    leaves no training behind. Rank 0 writes the result.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    os.environ["GP_AUTOLOSS_PARENT_PID"] = str(os.getpid())
    try:
        torchrun(["--standalone", "--nproc-per-node", str(nproc), "-m", "detectors_adapter.train_one", spec_path])
    except ChildFailedError as exc:  # the ranks' tracebacks are above in the log; the last line says which
        rank, failure = exc.get_first_failure()
        detail = (str(failure.message or "").strip().splitlines() or [""])[-1]
        print(f"training rank {rank} exited with code {failure.exitcode}{': ' + detail if detail else ''}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m detectors_adapter.train_one", description=__doc__.split("\n")[0])
    parser.add_argument("spec", help="training spec JSON (detectors_adapter.spec.TrainSpec)")
    parser.add_argument("--print-config", action="store_true", help="print the built mmengine config and exit")
    args = parser.parse_args(argv)
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    _die_with_parent()

    from detectors_adapter.spec import TrainSpec
    from gp_autoloss.errors import GpAutolossError

    try:
        spec = TrainSpec.load(args.spec)
    except GpAutolossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if spec.nproc > 1 and "LOCAL_RANK" not in os.environ and not args.print_config:
        return _launch_ranks(args.spec, spec.nproc)
    try:
        if args.print_config:
            from detectors_adapter.build_config import build_config

            print(build_config(spec).pretty_text)
            return 0
        payload = run_spec(spec)
        code = 0
    except GpAutolossError as exc:
        payload, code = {"status": "config_error", "reason": str(exc)}, EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - any crash of a candidate's training is a failed candidate
        from detectors_adapter.models.hooks import NonFiniteLossError

        if not isinstance(exc, NonFiniteLossError):
            traceback.print_exc()
        payload, code = {"status": "failed", "reason": _one_line(exc)}, EXIT_FAILED
    if _is_rank_zero():
        _write(spec.result, payload)
        print(json.dumps(payload))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
