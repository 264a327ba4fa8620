"""The paper's Table 2 on this machine: how many evolved candidates survive each stage of CSE search.

    python -m benchmarks.funnel                          # toy adapter, softmax_cls, 3 generations of 1000
    python -m benchmarks.funnel --space iou_reg --population 2000 --generations 2

Runs a real CSE search (Algorithm 1) and counts, over all its generations, the candidates generated, left
after deduplication, passing the validness check, passing convergence-property verification, passing the
model-optimization simulation on D_verify (at least the previous generation's top metric) and
proxy-evaluated; with the computing time each stage cost in total and per candidate it ran on.

Writes ``funnel_<space>.csv`` / ``.json`` into ``--out-dir``; the run stays under ``--runs-dir``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

#: funnel rows: (field in the generation stats, label, stage whose time it costs)
ROWS = (
    ("generated", "generated", None),
    ("unique", "after deduplication", None),
    ("valid", "validness check", "validness"),
    ("convergent", "convergence-property verification", "convergence"),
    ("verify_passed", "model-optimization simulation (D_verify)", "verify"),
    ("proxy_evaluated", "proxy evaluation (top-K)", "proxy"),
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.funnel", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--space", default="softmax_cls")
    parser.add_argument("--adapter", default="toy")
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--parents", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", default="benchmarks/results/runs")
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--fresh", action="store_true", help="rerun the search if its run directory exists")
    args = parser.parse_args(argv)
    if min(args.generations, args.population, args.top_k, args.parents) < 1:
        parser.error("--generations, --population, --top-k, --parents must be >= 1")
    return args


def funnel_table(run: Any) -> list[dict[str, Any]]:
    """Totals over the run's finished generations (the initial loss L_I not counted), with stage times."""
    stats = [g["stats"] for g in run.generations if g["finished"] and g["generation"] >= 0]
    rows = []
    for field, label, stage in ROWS:
        count = sum(int(s.get(field) or 0) for s in stats)
        seconds = ran = None
        if stage is not None:
            timed = [c for c in run.candidates if c["generation"] >= 0 and f"{stage}_ok" in c
                     and not c[f"{stage}_cached"]]  # fmt: skip
            seconds = sum(float(c[f"{stage}_seconds"] or 0.0) for c in timed)
            ran = len(timed)
        rows.append({"stage": label, "field": field, "candidates": count, "ran_on": ran,
                     "seconds": None if seconds is None else round(seconds, 3),
                     "ms_per_candidate": None if not ran else round(1e3 * seconds / ran, 3)})  # fmt: skip
    generated = rows[0]["candidates"] or 1
    for row in rows:
        row["percent_of_generated"] = round(100.0 * row["candidates"] / generated, 2)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the search, print the funnel, write CSV/JSON."""
    args = _parse_args(argv)
    from gp_autoloss.errors import GpAutolossError
    from gp_autoloss.reporting import load_run
    from gp_autoloss.search import SearchConfig, SearchEngine

    run_dir = Path(args.runs_dir) / f"funnel_{args.space}"
    if args.fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    start = time.perf_counter()
    try:
        if (run_dir / "run.sqlite").exists():
            engine = SearchEngine.open(run_dir)
        else:
            cfg = SearchConfig(space=args.space, strategy="cse", adapter=args.adapter, generations=args.generations,
                               population=args.population, top_k=args.top_k, parents=args.parents, seed=args.seed)
            engine = SearchEngine.create(cfg, run_dir)
        try:
            engine.run()
        finally:
            engine.close()
    except GpAutolossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    run = load_run(run_dir)
    rows = funnel_table(run)
    print(f"CSE search, {args.adapter} adapter, {args.space}: {args.generations} generations of {args.population}")
    print(f"{'stage':44} {'candidates':>10} {'% gen.':>7} {'ran on':>7} {'seconds':>9} {'ms/cand.':>9}")
    for r in rows:
        print(f"{r['stage']:44} {r['candidates']:10} {r['percent_of_generated']:7.2f} "
              f"{'' if r['ran_on'] is None else r['ran_on']:>7} {'' if r['seconds'] is None else r['seconds']:>9} "
              f"{'' if r['ms_per_candidate'] is None else r['ms_per_candidate']:>9}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"funnel_{args.space}"
    with open(f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    payload = {"settings": {k: v for k, v in vars(args).items() if k != "fresh"}, "rows": rows,
               "wall_seconds_this_call": round(wall, 2), "run": str(run_dir),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "date": time.strftime("%Y-%m-%d %H:%M")}}  # fmt: skip
    Path(f"{stem}.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"wrote {stem}.csv and .json")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
