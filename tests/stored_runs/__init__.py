"""Stored runs of every built-in strategy: the regression reference of the search engine.

Each ``<name>.json`` is the canonical content of a run file (candidates, stage results, generations; no clock
times) made by the configuration :data:`RUNS` names, on the real toy adapter. ``tests/test_stored_runs.py``
runs each configuration again and compares: a refactoring of the engine must leave them unchanged.

Rewrite them only when a change of results is intended, and say so in the commit::

    python -m tests.stored_runs --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: name -> search settings (real toy adapter; small enough for the test suite)
RUNS: dict[str, dict[str, Any]] = {
    "random": {"space": "softmax_cls", "strategy": "random", "adapter": "toy", "generations": 2, "population": 6,
               "parents": 3, "top_k": 3, "seed": 3},
    "vanilla": {"space": "softmax_cls", "strategy": "vanilla", "adapter": "toy", "generations": 2, "population": 6,
                "parents": 3, "top_k": 3, "seed": 3},
    "cse": {"space": "softmax_cls", "strategy": "cse", "adapter": "toy", "generations": 3, "population": 12,
            "parents": 3, "top_k": 1, "seed": 3},
    "cse_iou": {"space": "iou_reg", "strategy": "cse", "adapter": "toy", "generations": 2, "population": 10,
                "parents": 3, "top_k": 2, "seed": 5},
}


def canonical(run_dir: Path) -> dict[str, Any]:
    """What a run file holds, without clock times: candidates with their status, every stage result, and every
    generation's parents, threshold, funnel counts and RNG state (hashed)."""
    from gp_autoloss.search import RunStorage

    store = RunStorage.open(run_dir)
    try:
        rows = store.conn.execute(
            "SELECT id, key, formula, fingerprint, generation, origin, parents, status, stage, reason "
            "FROM candidates ORDER BY id").fetchall()
        candidates = [dict(zip(("id", "key", "formula", "fingerprint", "generation", "origin", "parents", "status",
                                "stage", "reason"), r)) for r in rows]
        results = [dict(zip(("candidate", "stage", "ok", "metric", "reason", "cached"), r)) for r in store.conn.execute(
            "SELECT candidate, stage, ok, metric, reason, cached FROM results ORDER BY candidate, stage").fetchall()]
        generations = []
        for g in store.generations():
            stats = dict(g["stats"])
            rng_end = stats.pop("rng_end", None)
            generations.append({"generation": g["generation"], "parents": g["parents"], "threshold": g["threshold"],
                                "stats": stats, "finished": bool(g["finished"]),
                                "rng_end": hashlib.sha256(json.dumps(rng_end).encode()).hexdigest()[:16]})
        return {"candidates": candidates, "results": results, "generations": generations}
    finally:
        store.close()


def run(name: str, run_dir: Path) -> dict[str, Any]:
    """Run configuration ``name`` into ``run_dir``; returns its canonical content."""
    from gp_autoloss.search import SearchConfig, SearchEngine

    engine = SearchEngine.create(SearchConfig(**RUNS[name]), run_dir)
    try:
        engine.run()
    finally:
        engine.close()
    return canonical(run_dir)


def stored(name: str) -> dict[str, Any]:
    """The stored reference of configuration ``name``."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.stored_runs", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the stored references")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"some of {', '.join(RUNS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RUNS))
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}")
    args.names = args.names or list(RUNS)
    differ = 0
    for name in args.names:
        with tempfile.TemporaryDirectory() as tmp:
            now = run(name, Path(tmp) / name)
        if args.write:
            (HERE / f"{name}.json").write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {name}.json: {len(now['candidates'])} candidates, {len(now['results'])} results")
        else:
            same = now == stored(name)
            differ += not same
            print(f"{name}: {'same' if same else 'DIFFERENT'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
