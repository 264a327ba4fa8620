"""How many random candidate losses the cheap checks get through per second, and how many pass.

    python -m benchmarks.check_speed --n 10000 --seed 0
    python -m benchmarks.check_speed --space sigmoid_cls --profile

For each space: generate ``--n`` random trees with :func:`gp_autoloss.random_loss` (seeded; not timed),
build the space's probe batch once (not timed: it is cached for the whole search), then time
:func:`gp_autoloss.check` over every tree. Prints candidates/s and the pass rate of each stage, and writes
``benchmarks/results/check_speed.csv`` and ``.json``. Runs torch on one thread (the tensors are tiny).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import platform
import pstats
import random
import re
import time
from pathlib import Path
from typing import Any

import torch

from gp_autoloss import random_loss
from gp_autoloss.checks import check, get_probes
from primitives import SPACES

RESULTS = Path(__file__).parent / "results"


def bench_space(space: str, n: int, seed: int, profile: bool = False) -> dict[str, Any]:
    """Check ``n`` seeded random losses of ``space``; timing and per-stage pass counts."""
    rng = random.Random(f"{seed}:{space}")
    t0 = time.perf_counter()
    losses = [random_loss(space, rng) for _ in range(n)]
    gen_s = time.perf_counter() - t0
    probes = get_probes(space)  # built once per process, outside the timing
    for loss in losses[:50]:  # warm-up: torch's lazy imports on the first backward, allocator
        check(loss)
    profiler = cProfile.Profile() if profile else None
    counts = {"valid": 0, "passed": 0}
    reasons: dict[str, int] = {}
    wrt = set(probes.wrt)
    uses = [any(node.arity == 0 and node.value in wrt for node in loss.tree) for loss in losses]
    split = {True: 0.0, False: 0.0}
    if profiler:
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    verdicts = []
    for loss, used in zip(losses, uses):
        t1 = time.perf_counter()
        verdicts.append(check(loss))
        split[used] += time.perf_counter() - t1
    check_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    if profiler:
        profiler.disable()
    for verdict in verdicts:
        if verdict.validness.passed:
            counts["valid"] += 1
            if verdict.passed:
                counts["passed"] += 1
        if not verdict.passed:
            key = f"{verdict.failed_check}: {_reason_kind(verdict.reason)}"
            reasons[key] = reasons.get(key, 0) + 1
    row = {
        "space": space,
        "n": n,
        "probe_points": probes.rows,
        "check_seconds": round(check_s, 4),
        "candidates_per_s": round(n / check_s, 1),
        "us_per_candidate": round(1e6 * check_s / n, 1),
        "cpu_seconds": round(cpu_s, 4),
        "candidates_per_cpu_s": round(n / cpu_s, 1),
        "uses_prediction_rate": round(sum(uses) / n, 4),
        "us_per_candidate_using_prediction": round(1e6 * split[True] / max(sum(uses), 1), 1),
        "us_per_candidate_not_using_prediction": round(1e6 * split[False] / max(n - sum(uses), 1), 1),
        "generation_seconds": round(gen_s, 4),
        "valid": counts["valid"],
        "valid_rate": round(counts["valid"] / n, 4),
        "passed": counts["passed"],
        "pass_rate_of_valid": round(counts["passed"] / max(counts["valid"], 1), 4),
        "pass_rate": round(counts["passed"] / n, 4),
        "failure_kinds": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(18)
        row["profile"] = buf.getvalue()
    return row


def _reason_kind(reason: str) -> str:
    """The reason up to its first detail: ``"value is NaN"``, ``"not monotone"``, ..."""
    reason = re.sub(r" is -?[0-9.e+]+, beyond", " is beyond", reason)
    for sep in (" at ", ":", " as ", " along ", " ("):
        if sep in reason:
            reason = reason.split(sep, 1)[0]
    return reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000, help="random trees per space (default 10000)")
    parser.add_argument("--space", action="append", choices=sorted(SPACES.names()),
                        help="space to benchmark (repeatable; default: every registered space)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tree generator (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the checks per space")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output directory (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be >= 1")
    torch.set_num_threads(args.threads)
    rows = []
    for space in args.space or SPACES.names():
        row = bench_space(space, args.n, args.seed, args.profile)
        rows.append(row)
        print(f"{space:12s} {row['candidates_per_s']:9.0f} candidates/s ({row['us_per_candidate']} us each; "
              f"{row['candidates_per_cpu_s']:.0f}/s of process CPU time; {row['probe_points']} probe points)")
        print(f"{'':14s}{row['uses_prediction_rate']:.1%} of the trees use the prediction input "
              f"({row['us_per_candidate_using_prediction']} us each; the rest "
              f"{row['us_per_candidate_not_using_prediction']} us)")
        print(f"{'':14s}valid {row['valid_rate']:.1%} | convergent {row['pass_rate_of_valid']:.2%} of the valid "
              f"| pass {row['pass_rate']:.2%} ({row['passed']} of {row['n']})")
        for kind, count in list(row["failure_kinds"].items())[:6]:
            print(f"{'':14s}{count:6d}  {kind}")
        if args.profile:
            print(row["profile"])
    total_n = sum(r["n"] for r in rows)
    total_s = sum(r["check_seconds"] for r in rows)
    total_cpu = sum(r["cpu_seconds"] for r in rows)
    print(f"{'all':12s} {total_n / total_s:9.0f} candidates/s over {total_n} candidates "
          f"({total_n / total_cpu:.0f}/s of process CPU time)")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"n": args.n, "seed": args.seed, "threads": args.threads, "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "cpus": _cpus(),
            "overall_candidates_per_s": round(total_n / total_s, 1),
            "overall_candidates_per_cpu_s": round(total_n / total_cpu, 1)}  # fmt: skip
    plain = [{k: v for k, v in r.items() if k != "profile"} for r in rows]
    (args.out / "check_speed.json").write_text(json.dumps({"meta": meta, "spaces": plain}, indent=2) + "\n")
    with open(args.out / "check_speed.csv", "w", newline="") as fh:
        fields = [k for k in plain[0] if k != "failure_kinds"]
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(plain)
    print(f"wrote {args.out / 'check_speed.csv'} and {args.out / 'check_speed.json'}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    raise SystemExit(main())
