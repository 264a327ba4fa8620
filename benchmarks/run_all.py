"""The benchmarks, in one command, then ``benchmarks/README.md`` regenerated from the results.

    python -m benchmarks.run_all                      # make bench: the proxy's calibration, the toy searches
                                                      # and speed, <= 60 minutes on 2 CPU cores
    python -m benchmarks.run_all --tables             # make bench-tables: the detector search comparison, the
                                                      # loss tables and curves (~45 min)
    python -m benchmarks.run_all --all                # both
    python -m benchmarks.run_all --quick              # a few minutes: the pipeline, not the numbers
    python -m benchmarks.run_all --only loss_table convergence_curves
    python -m benchmarks.run_all --gpu                # adds the GPU smoke check (skipped without CUDA)

Two CPU cores cannot train every detector benchmark within an hour: with a proxy evaluation at about 80 s,
an hour holds some 90 of them, and the proxy's calibration (``proxy_signal``, about 100 trainings of both
tiny detectors) plus the loss tables (about 50) need more. ``make bench`` therefore holds the calibration, the
toy searches and the speed measurements; the detector search comparison and the loss tables (the paper's
Tables 6 and 7, and Figure 3's curves) are the ``tables`` group, ``make bench-tables``.

Each step is one benchmark script's ``main(argv)``; a failing step is reported and the others still run.
Step times go to ``benchmarks/results/run_all.json``; ``benchmarks/README.md`` is written from the result
files alone (``python -m benchmarks.readme`` rewrites it without rerunning anything).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

RESULTS = "benchmarks/results"

#: the steps of the ``tables`` group (``--tables``); every other step is in the default group
TABLE_STEPS = ("search_efficiency_mmdet", "search_real", "loss_table", "convergence_curves")
#: (step, module, argv at the default size, argv with --quick)
STEPS: list[tuple[str, str, list[str], list[str]]] = [
    ("check_speed", "benchmarks.check_speed", [], ["--n", "2000"]),
    ("loss_speed", "benchmarks.loss_speed", [], ["--repeats", "30"]),
    ("train_overhead", "benchmarks.train_overhead", ["--iters", "30"], ["--iters", "5", "--loss-repeats", "20"]),
    ("report_speed", "benchmarks.report_speed", [], ["--n", "2000", "--repeat", "1"]),
    ("executor_speed", "benchmarks.executor_speed", [], ["--generations", "1", "--population", "10", "--repeat", "1"]),
    ("funnel_softmax_cls", "benchmarks.funnel", ["--space", "softmax_cls", "--fresh"],
     ["--space", "softmax_cls", "--population", "200", "--generations", "2", "--fresh"]),
    ("funnel_iou_reg", "benchmarks.funnel", ["--space", "iou_reg", "--fresh"],
     ["--space", "iou_reg", "--population", "200", "--generations", "2", "--fresh"]),
    ("search_efficiency_toy", "benchmarks.search_efficiency", ["--seeds", "0", "1", "2", "3", "--workers", "2",
                                                               "--fresh"],
     ["--seeds", "0", "--generations", "2", "--population", "20", "--holdout", "2", "--fresh"]),
    ("proxy_cost", "benchmarks.proxy_cost", ["--runs", "2", "--versus", "fork_server=false", "--versus",
                                             "frozen_cache=false"], ["--runs", "1", "--adapter-option", "epochs=1",
                                                 "--adapter-option", "proxy_images=16", "--adapter-option",
                                                 "val_limit=8"]),
    ("proxy_operators", "benchmarks.proxy_operators", [],
     ["--skip", "2", "--iterations", "4", "--adapter-option", "epochs=1", "--adapter-option", "proxy_images=64",
      "--adapter-option", "val_limit=8"]),
    ("proxy_signal", "benchmarks.proxy_signal", ["--detectors", "fcos_tiny", "faster_rcnn_tiny"],
     ["--detectors", "fcos_tiny", "--seeds", "0", "1", "--verify-candidates", "2",
      "--adapter-option", "epochs=1", "--adapter-option", "proxy_images=16", "--adapter-option", "val_limit=16",
      "--adapter-option", "verify_epochs=2"]),
    # a shortened proxy (pretrained start, 2 epochs on 300 images, val on 200) keeps the row in the budget
    ("search_efficiency_mmdet", "benchmarks.search_efficiency",
     ["--adapter", "mmdet", "--detector", "fcos_tiny", "--space", "sigmoid_cls", "--seeds", "0", "1",
      "--generations", "2", "--population", "6", "--top-k", "1", "--parents", "2", "--workers", "2",
      "--adapter-option", "generate_data=true", "--adapter-option", "epochs=2",
      "--adapter-option", "verify_epochs=32", "--adapter-option", "proxy_images=300",
      "--adapter-option", "val_limit=200", "--holdout", "2", "--fresh"],
     ["--adapter", "mmdet", "--detector", "fcos_tiny", "--space", "sigmoid_cls", "--seeds", "0",
      "--generations", "1", "--population", "2", "--top-k", "1", "--parents", "1", "--workers", "2",
      "--adapter-option", "generate_data=true", "--adapter-option", "epochs=1",
      "--adapter-option", "verify_epochs=1", "--adapter-option", "proxy_images=16",
      "--adapter-option", "val_limit=8", "--holdout", "1", "--fresh"]),
    # 4 strategies x 2 seeds x 15 min of evaluation, then 9 losses x 3 held-out seeds on the default proxy
    ("search_real", "benchmarks.search_real", ["--fresh"], ["--quick", "--fresh"]),
    ("loss_table", "benchmarks.loss_table", [], ["--seeds", "0", "1", "--epochs", "1"]),
    ("convergence_curves", "benchmarks.convergence_curves", [], []),
]  # fmt: skip
GPU_STEP = ("gpu_smoke", "benchmarks.gpu_smoke", [], ["--iters", "5"])


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [s[0] for s in STEPS] + [GPU_STEP[0]]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the pipeline in minutes")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tables", action="store_true", help=f"run the tables group ({', '.join(TABLE_STEPS)}) "
                       "instead of the default group")
    group.add_argument("--all", action="store_true", help="run both groups")
    parser.add_argument("--gpu", action="store_true", help="also run benchmarks.gpu_smoke")
    parser.add_argument("--only", nargs="+", choices=names, help="run only these steps")
    parser.add_argument("--skip", nargs="+", default=[], choices=names, help="leave these steps out")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    return parser.parse_args(argv)


def select_steps(args: argparse.Namespace) -> list[tuple[str, str, list[str], list[str]]]:
    """The steps a call runs: its group (default, ``--tables`` or ``--all``) plus ``--gpu``, or ``--only``'s;
    less ``--skip``'s."""
    steps = [s for s in STEPS if args.all or (s[0] in TABLE_STEPS) == args.tables]
    steps += [GPU_STEP] if args.gpu else []
    if args.only:
        steps = [s for s in STEPS + [GPU_STEP] if s[0] in args.only]
    return [s for s in steps if s[0] not in args.skip]


def run_step(name: str, module: str, argv: list[str]) -> dict[str, Any]:
    """Run one benchmark's ``main(argv)``; returns its exit code and seconds (exceptions are a failed step)."""
    print(f"\n===== {name}: python -m {module} {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    try:
        code = int(importlib.import_module(module).main(argv) or 0)
        error = None
    except SystemExit as exc:  # argparse
        code, error = int(exc.code or 0), None
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the others
        traceback.print_exc()
        code, error = 1, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    print(f"===== {name}: exit {code} in {seconds:.0f} s", flush=True)
    return {"step": name, "command": f"python -m {module} {' '.join(argv)}".strip(), "exit": code,
            "seconds": round(seconds, 1), "error": error}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the selected steps, record their times, regenerate the README; 1 if any step failed."""
    args = _parse_args(argv)
    steps = select_steps(args)
    started = time.strftime("%Y-%m-%d %H:%M")
    total = time.perf_counter()
    records = [run_step(name, module, quick if args.quick else full) for name, module, full, quick in steps]
    out = Path(RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    previous = json.loads((out / "run_all.json").read_text()) if (out / "run_all.json").is_file() else {}
    by_step = {r["step"]: r for r in previous.get("steps", [])}
    by_step.update({r["step"]: {**r, "date": started, "quick": args.quick} for r in records})
    payload = {"last_call": {"started": started, "seconds": round(time.perf_counter() - total, 1),
                             "quick": args.quick, "steps": [r["step"] for r in records]},
               "machine": {"platform": platform.platform(), "python": platform.python_version()},
               "steps": list(by_step.values())}  # fmt: skip
    (out / "run_all.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    if not args.no_readme:
        from benchmarks.readme import write_readme

        print(f"\nwrote {write_readme(Path(RESULTS))}")
    failed = [r["step"] for r in records if r["exit"] != 0]
    print(f"\n{len(records)} step(s) in {time.perf_counter() - total:.0f} s" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
