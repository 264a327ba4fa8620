"""Wall-clock of the same small search on the ``ray`` executor vs the ``local`` one, side by side in one run.

    python -m benchmarks.executor_speed                      # toy adapter, cse, 3 generations of 30
    python -m benchmarks.executor_speed --repeat 3 --workers 2

Each repeat runs the search with ``local`` (``--workers`` processes) and with ``ray`` (a local Ray instance
with ``--workers`` CPUs, one CPU per task), in alternating order, same seed. Ray's start-up is timed on its
own (``ray.init`` once, before the timed searches), so the ratio is what a long search pays per evaluation.
Also checks that both executors evaluated the same candidates with the same metrics.

Prints the ratio ray / local and writes ``benchmarks/results/executor_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.executor_speed", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=30)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="timed pairs (default 2)")
    parser.add_argument("--out-dir", default="benchmarks/results")
    args = parser.parse_args(argv)
    if min(args.generations, args.population, args.top_k, args.workers, args.repeat) < 1:
        parser.error("all numbers must be >= 1")
    return args


def _search(run_dir: Path, executor: str, args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    from gp_autoloss.search import RunStorage, SearchConfig, SearchEngine

    options = {"num_cpus": 1} if executor == "ray" else {}
    cfg = SearchConfig(space="softmax_cls", strategy="cse", adapter="toy", generations=args.generations,
                       population=args.population, top_k=args.top_k, parents=args.top_k, seed=0,
                       workers=args.workers, executor=executor, executor_options=options)  # fmt: skip
    start = time.perf_counter()
    engine = SearchEngine.create(cfg, run_dir)
    try:
        engine.run()
    finally:
        engine.close()
    seconds = time.perf_counter() - start
    store = RunStorage.open(run_dir)
    try:
        rows = {r["key"]: (r["status"], r.get("verify_metric"), r.get("proxy_metric")) for r in store.results_table()}
    finally:
        store.close()
    return seconds, rows


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns 0, or 1 if the two executors disagreed on a result."""
    args = _parse_args(argv)
    try:
        import ray
    except ImportError:
        print("error: this benchmark needs ray (pip install -e .[ray])", file=sys.stderr)
        return 2
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start = time.perf_counter() - start
    times: dict[str, list[float]] = {"local": [], "ray": []}
    same = True
    try:
        with tempfile.TemporaryDirectory(prefix="executor-speed-") as tmp:
            for k in range(args.repeat):
                order = ("local", "ray") if k % 2 == 0 else ("ray", "local")
                outcomes = {}
                for executor in order:
                    seconds, outcomes[executor] = _search(Path(tmp) / f"{executor}{k}", executor, args)
                    times[executor].append(seconds)
                    print(f"repeat {k}: {executor:5} {seconds:7.2f} s")
                same = same and outcomes["local"] == outcomes["ray"]
    finally:
        ray.shutdown()
    ratio = statistics.median(times["ray"]) / statistics.median(times["local"])
    n_proxy = sum(1 for status, _, proxy in outcomes["local"].values() if proxy is not None)
    print(f"\nray start-up (ray.init, {args.workers} CPUs): {ray_start:.2f} s, once per search")
    print(f"search of {args.generations} x {args.population} candidates, {n_proxy} proxy evaluations, "
          f"{args.workers} workers: local {statistics.median(times['local']):.2f} s, "
          f"ray {statistics.median(times['ray']):.2f} s, ratio ray / local = {ratio:.3f}")
    print(f"same candidates and metrics on both executors: {same}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": platform.machine(), "python": platform.python_version(), "ray": ray.__version__,
               "workers": args.workers, "generations": args.generations, "population": args.population,
               "proxy_evaluations": n_proxy, "ray_init_seconds": round(ray_start, 3),
               "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()}, "ratio_ray_local": round(ratio, 4),
               "same_results": same, "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
    (out / "executor_speed.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"wrote {out / 'executor_speed.json'}")
    return 0 if same else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
