"""What the learning part of a proxy evaluation spends its time on, operator by operator (torch.profiler).

    python -m benchmarks.proxy_operators                    # fcos_tiny's default proxy, iterations 40-119
    python -m benchmarks.proxy_operators --detector faster_rcnn_tiny --iterations 40

:mod:`benchmarks.proxy_cost` splits an evaluation into start-up, data, learning and the val pass; this script
opens the learning part. It runs one real proxy training of the initial loss through the adapter (that fills the
frozen-stage cache as a search's first evaluation does), then the same training spec **in this process** under
``torch.profiler`` over ``--iterations`` training iterations after ``--skip`` warm-up ones (one torch thread,
as the adapter's default), and adds up each operator's *self* CPU time by what it belongs to: convolutions
forward and backward, normalization (batch and group norm) forward and backward, the rest of the backward pass,
the optimizer step, data loading, the other forward operators (gradient clipping's norms among them), and the
time outside any operator (Python: mmengine's loop and hooks, mmdet's target assignment, the profiler's own
overhead). Writes
``proxy_operators_<detector>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: (part, test on an operator's name and its ancestors' names); the first part that matches takes its self time
PARTS: tuple[tuple[str, Callable[[str, list[str]], bool]], ...] = (
    ("data loading", lambda name, up: any(a.startswith("enumerate(DataLoader)") for a in up + [name])),
    ("optimizer step (AdamW)", lambda name, up: any(a.startswith("Optimizer.") for a in up + [name])),
    ("convolution backward", lambda name, up: "conv" in name and "backward" in name),
    ("convolution forward", lambda name, up: "conv" in name),
    ("normalization backward", lambda name, up: "norm" in name and "backward" in name),
    ("normalization forward", lambda name, up: "norm" in name and ("batch" in name or "group" in name)),
    ("other backward operators", lambda name, up: any(a.startswith("autograd::engine") for a in up + [name])),
    ("other forward operators (heads, losses, targets)", lambda name, up: True),
)  # fmt: skip
OUTSIDE = "outside any operator (Python: loop, hooks, target assignment; profiler overhead)"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy_operators", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--detector", default="fcos_tiny")
    parser.add_argument("--skip", type=int, default=40, help="warm-up iterations before the profile (default 40)")
    parser.add_argument("--iterations", type=int, default=80, help="iterations profiled (default 80)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out-dir", default="benchmarks/results")
    return parser.parse_args(argv)


def _ancestors(event: Any) -> list[str]:
    names, parent = [], event.cpu_parent
    while parent is not None:
        names.append(parent.name)
        parent = parent.cpu_parent
    return names


def split_by_part(events: Any) -> dict[str, float]:
    """Seconds of self CPU time per part of :data:`PARTS` over the profiler's ``events``."""
    seconds = {part: 0.0 for part, _ in PARTS}
    for event in events:
        up = _ancestors(event)
        for part, matches in PARTS:
            if matches(event.name, up):
                seconds[part] += event.self_cpu_time_total / 1e6
                break
    return seconds


class _Profiled:
    """Wraps mmengine's ``BaseModel.train_step``: counts iterations and profiles ``iterations`` after ``skip``."""

    def __init__(self, skip: int, iterations: int) -> None:
        self.skip, self.iterations = skip, iterations
        self.count = 0
        self.profile: Any = None
        self.window = 0.0
        self._start = 0.0

    def install(self) -> Callable[[], None]:
        import torch.profiler as tp
        from mmengine.model import BaseModel

        original = BaseModel.train_step
        watcher = self

        def train_step(model: Any, data: Any, optim_wrapper: Any) -> Any:
            if watcher.count == watcher.skip:
                watcher.profile = tp.profile(activities=[tp.ProfilerActivity.CPU])
                watcher.profile.__enter__()
                watcher._start = time.perf_counter()
            # the data loader's next batch is fetched between train steps: the profile includes it
            result = original(model, data, optim_wrapper)
            watcher.count += 1
            if watcher.count == watcher.skip + watcher.iterations:
                watcher.window = time.perf_counter() - watcher._start
                watcher.profile.__exit__(None, None, None)
            return result

        BaseModel.train_step = train_step
        return lambda: setattr(BaseModel, "train_step", original)


def main(argv: list[str] | None = None) -> int:
    """Profile ``--iterations`` iterations of a proxy training and print the split."""
    args = _parse_args(argv)
    from benchmarks.proxy_cost import initial_loss_setup
    from detectors_adapter.fitness import MMDetFitnessAdapter
    from detectors_adapter.spec import TrainSpec
    from detectors_adapter.train_one import run_spec

    options, space, loss = initial_loss_setup(args.detector, args.adapter_option)
    adapter = MMDetFitnessAdapter(space, **options)
    try:
        first = adapter.train(loss.to_prefix(), args.seed, "proxy")  # the adapter's own run; fills the caches
        spec_path = max(Path(adapter._tmp).glob("proxy-*/spec.json"), key=lambda p: p.stat().st_mtime)
        spec = TrainSpec.load(spec_path)
        if args.skip + args.iterations > int(first["iters"]):
            print(f"error: the proxy trains {first['iters']} iterations, fewer than --skip + --iterations",
                  file=sys.stderr)  # fmt: skip
            return 2
        import torch

        torch.set_num_threads(int(spec.threads or torch.get_num_threads()))
        profiled = _Profiled(args.skip, args.iterations)
        uninstall = profiled.install()
        try:
            result = run_spec(spec)
        finally:
            uninstall()
    finally:
        adapter.close()
        shutil.rmtree(adapter._tmp, ignore_errors=True)  # kept for the spec (keep_work_dirs); done with it
    parts = split_by_part(profiled.profile.events())
    parts[OUTSIDE] = max(profiled.window - sum(parts.values()), 0.0)
    per_iter = {k: round(1000 * v / args.iterations, 2) for k, v in parts.items()}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"proxy_operators_{args.detector}.json"
    payload = {"detector": args.detector, "space": space, "iterations": args.iterations, "skip": args.skip,
               "threads": spec.threads, "batch_size": spec.batch_size, "metric": result["metric"],
               "adapter_metric": first["metric"], "window_seconds": round(profiled.window, 3),
               "ms_per_iteration": per_iter,
               "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                           "date": time.strftime("%Y-%m-%d %H:%M")}}  # fmt: skip
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    total = sum(per_iter.values())
    print(f"{args.detector}: {total:.1f} ms per training iteration over {args.iterations} iterations "
          f"(mAP {result['metric']:.4f} in process, {first['metric']:.4f} through the adapter)")  # fmt: skip
    for part, ms in sorted(per_iter.items(), key=lambda kv: -kv[1]):
        print(f"  {ms:7.1f} ms  {ms / total:5.1%}  {part}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
