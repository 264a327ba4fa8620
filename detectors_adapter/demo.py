"""The main job with real detectors: a CSE-Autoloss search whose fitness is the bbox mAP of tiny mmdet FCOS.

``make demo`` runs ``python -m detectors_adapter.demo``: the paper's losses (:mod:`gp_autoloss.demo`), then,
when the detection extras are installed (else the core demo's toy search):

1. generates the synthetic shapes dataset under ``data/shapes_v2`` if it is missing;
2. runs CSE search (Algorithm 1) over the one-stage classification branch (``sigmoid_cls``, the paper's
   CSE-Autoloss-B_cls search) from the initial loss FLI, with tiny FCOS detectors trained on CPU: every
   candidate passes validness and convergence checks, a D_verify simulation, and only the top-K are trained
   on the proxy split and scored by val bbox mAP;
3. prints the report and renders the best loss;
4. trains the best found loss and the initial loss again under evaluation seeds the search did not use
   (held-out seeds, two at a time) and prints their paired difference ± standard error with a verdict:
   "better", "within noise" or "worse" (a gap beyond two standard errors either way). A search-time best
   is a maximum over noisy single evaluations; only the held-out comparison says whether it is better.

Every training starts from the shipped pretrained tiny backbone and neck (the adapter's defaults), so the
proxy is a detector that already works and the search compares losses, not seed noise.
An interrupted demo resumes where it stopped. The default size fits about 15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import shutil
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gp_autoloss.cli.main import main as cli_main

__all__ = ["DEMO_SEARCH", "HELDOUT_SEEDS", "heldout_comparison", "main", "paired_verdict", "run_demo_search"]

#: the demo search's settings (``gp-autoloss search`` options)
DEMO_SEARCH: tuple[str, ...] = (
    "--space", "sigmoid_cls", "--strategy", "cse", "--adapter", "mmdet", "--detector", "fcos_tiny",
    "--adapter-option", "generate_data=true", "--adapter-option", "threads=1", "--workers", "2",
    "--generations", "2", "--population", "24", "--top-k", "3", "--parents", "3", "--seed", "0",
    "--time-limit", "600",
)  # fmt: skip
#: evaluation seeds of the held-out comparison; a search evaluates under ``seed * 1000 + 17``
HELDOUT_SEEDS: tuple[int, ...] = (7_000_003, 7_001_012)


def run_demo_search(out: Path, fresh: bool = False, data_root: str | None = None) -> int:
    """Run (or resume) the demo search into ``out/search_fcos_cse``; returns the CLI exit code."""
    run_dir = out / "search_fcos_cse"
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    print("\n== CSE-Autoloss search: tiny FCOS (mmdet) on synthetic shapes, sigmoid_cls branch, from FLI ==")
    if (run_dir / "run.sqlite").exists():
        args = ["search", "--out", str(run_dir), "--resume"]
    else:
        args = ["search", *DEMO_SEARCH, "--out", str(run_dir)]
        if data_root is not None:
            args[-2:-2] = ["--adapter-option", f"data_root={data_root}"]
    rc = cli_main(args)
    if rc != 0:
        return rc
    rc = cli_main(["report", str(run_dir), "--top", "5"])
    if rc != 0:
        return rc
    return _compare(out, run_dir)


def _compare(out: Path, run_dir: Path) -> int:
    from gp_autoloss import parse
    from gp_autoloss.render import render_loss
    from gp_autoloss.reporting import load_run

    run = load_run(run_dir)
    best, initial = run.best, run.initial
    if best is None or initial is None or not initial.get("proxy_ok"):
        print("no candidate was scored; see the report above")
        return 1
    target = out / "best_fcos_cse.svg"
    render_loss(parse(best["prefix"], "sigmoid_cls"), target, title=f"best: {best['formula']}")
    print("\n== search-time result (val bbox mAP of tiny FCOS, the search's evaluation seed) ==")
    print(f"initial loss  {initial['formula']}\n              mAP {initial['proxy_metric']:.4f}")
    print(f"best found    {best['formula']}\n              mAP {best['proxy_metric']:.4f}"
          f"  ({best['proxy_metric'] - initial['proxy_metric']:+.4f})")
    print(f"rendered the best loss to {target}")
    if best["prefix"] == initial["prefix"]:
        print("\nheld-out comparison: the best found loss is the initial loss; nothing to compare")
        return 0
    options = dict(run.config.get("adapter_options") or {})
    comparison = heldout_comparison(run.config["space"], options, best["prefix"], initial["prefix"], HELDOUT_SEEDS)
    print(format_comparison(comparison))
    return 0


def heldout_comparison(space: str, options: dict[str, Any], best: str, initial: str,
                       seeds: tuple[int, ...] = HELDOUT_SEEDS, workers: int = 2) -> dict[str, Any]:
    """Train ``best`` and ``initial`` (prefix formulas) under each held-out seed with the search's adapter
    settings; returns their metrics, the paired difference (mean, standard error) and a verdict."""
    from detectors_adapter.fitness import MMDetFitnessAdapter
    from gp_autoloss.fitness import CandidateFailed

    adapter = MMDetFitnessAdapter(space, **options)

    def score(prefix: str, seed: int) -> float | None:
        try:
            return float(adapter.train(prefix, seed, "proxy")["metric"])
        except CandidateFailed:
            return None

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = {(name, seed): pool.submit(score, prefix, seed)
                    for seed in seeds for name, prefix in (("best", best), ("initial", initial))}
            metrics = {key: job.result() for key, job in jobs.items()}
    finally:
        adapter.close()
    return paired_verdict([metrics["best", s] for s in seeds], [metrics["initial", s] for s in seeds], seeds)


def paired_verdict(best: list[float | None], initial: list[float | None], seeds: tuple[int, ...]) -> dict[str, Any]:
    """Paired difference ``best - initial`` over seeds (a failed training scores 0) and its verdict:
    ``better``/``worse`` when the mean gap exceeds two standard errors, else ``within noise``."""
    b = [0.0 if v is None else v for v in best]
    i = [0.0 if v is None else v for v in initial]
    diffs = [x - y for x, y in zip(b, i, strict=True)]
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.inf
    verdict = "within noise" if abs(mean) <= 2 * se else ("better" if mean > 0 else "worse")
    return {"seeds": list(seeds), "best": best, "initial": initial, "mean": mean, "se": se, "verdict": verdict}


def format_comparison(c: dict[str, Any]) -> str:
    """The held-out comparison as the demo prints it."""
    def shown(values: list[float | None]) -> str:
        return "  ".join("failed" if v is None else f"{v:.4f}" for v in values)

    return (f"\n== held-out comparison: trained again under {len(c['seeds'])} seeds the search did not use ==\n"
            f"seeds         {'  '.join(str(s) for s in c['seeds'])}\n"
            f"best found    {shown(c['best'])}\n"
            f"initial loss  {shown(c['initial'])}\n"
            f"paired difference (best - initial): {c['mean']:+.4f} ± {c['se']:.4f} (standard error)\n"
            f"verdict: {c['verdict']}")


def _mmdet_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("mmdet", "mmcv", "mmengine"))


def main(argv: list[str] | None = None) -> int:
    """``make demo``: the paper's losses, then the detector search (or the core's toy search without mmdet)."""
    from gp_autoloss.demo import render_known, run_toy_search

    parser = argparse.ArgumentParser(prog="python -m detectors_adapter.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--adapter", choices=("auto", "toy", "mmdet"), default="auto",
                        help="fitness adapter; auto: mmdet when installed (default)")
    parser.add_argument("--fresh", action="store_true", help="delete an earlier demo search instead of resuming it")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    render_known(out)
    adapter = ("mmdet" if _mmdet_available() else "toy") if args.adapter == "auto" else args.adapter
    if adapter == "mmdet":
        return run_demo_search(out, fresh=args.fresh)
    return run_toy_search(out, fresh=args.fresh)


if __name__ == "__main__":
    sys.exit(main())
