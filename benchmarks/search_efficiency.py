"""The paper's Table 5 on this machine: random vs vanilla vs CSE search, same seeds, same adapter.

    python -m benchmarks.search_efficiency                                   # toy adapter, 3 seeds, 8 x 50
    python -m benchmarks.search_efficiency --adapter mmdet --detector fcos_tiny --space sigmoid_cls \\
        --generations 2 --population 8 --top-k 1 --parents 2 --seeds 0 1 \\
        --adapter-option epochs=1 --adapter-option proxy_images=64 --adapter-option val_limit=32

For every seed and strategy a real search runs (``gp-autoloss search`` settings; the runs stay under
``--runs-dir`` for ``gp-autoloss report``). Per strategy: proxy evaluations, wall-clock, best proxy metric,
and the proxy evaluations / seconds needed to first reach the target metric -- by default vanilla's best of
the same seed (the paper's comparison: how much cheaper CSE gets to where vanilla evolution got). Mean and
spread over seeds. Plots best metric against proxy evaluations and against time.

A search-time best is the maximum over every loss a strategy scored once, so it grows with the number of
evaluations (the winner's curse). Like the paper, which trains the found losses again, every run's best loss
is then re-evaluated on ``--holdout`` seeds that no search used (:mod:`benchmarks.holdout`), and CSE's found
loss is compared with vanilla's seed by seed, together with the proxy evaluations each strategy spent until
it found its loss.

Writes ``search_efficiency_<adapter>.csv`` (one row per run), ``.json`` (runs, curves, summary) and ``.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

STRATEGIES = ("random", "vanilla", "cse")
#: the issue's target: CSE reaches vanilla's best with at least this many times fewer proxy evaluations
TARGET_FACTOR = 20.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_efficiency",
                                     description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--adapter", default="toy", help="fitness adapter (default toy)")
    parser.add_argument("--detector", help="mmdet adapter: detector (fcos_tiny, faster_rcnn_tiny, ...)")
    parser.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--space", default="softmax_cls")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--population", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=2, help="cse: proxy evaluations per generation")
    parser.add_argument("--parents", type=int, default=5)
    parser.add_argument("--target", type=float, help="target metric (default: vanilla's best of each seed)")
    parser.add_argument("--holdout", type=int, default=8, metavar="N",
                        help="re-evaluate each run's best loss on N held-out seeds (default 8; 0: skip)")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=1, help="parallel evaluation workers (default 1)")
    parser.add_argument("--runs-dir", default="benchmarks/results/runs", help="where the search runs are kept")
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--tag", help="file name tag (default: the adapter, and the detector)")
    parser.add_argument("--fresh", action="store_true", help="rerun searches whose run directory exists")
    args = parser.parse_args(argv)
    if min(args.generations, args.population, args.top_k, args.parents, args.workers) < 1:
        parser.error("--generations, --population, --top-k, --parents, --workers must be >= 1")
    if args.holdout < 0:
        parser.error("--holdout must be >= 0")
    return args


def _adapter_options(args: argparse.Namespace) -> dict[str, Any]:
    from gp_autoloss.cli.search_commands import parse_adapter_options

    options = parse_adapter_options(args.adapter_option)
    if args.detector:
        options["detector"] = args.detector
    return options


def run_search(run_dir: Path, strategy: str, seed: int, args: argparse.Namespace, fresh: bool) -> Path:
    """Run (or reuse, or resume) one search; returns its directory."""
    from gp_autoloss.search import SearchConfig, SearchEngine

    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    if (run_dir / "run.sqlite").exists():
        engine = SearchEngine.open(run_dir)
    else:
        cfg = SearchConfig(space=args.space, strategy=strategy, adapter=args.adapter,
                           adapter_options=_adapter_options(args), generations=args.generations,
                           population=args.population, top_k=args.top_k, parents=args.parents, seed=seed,
                           time_limit=args.time_limit, workers=args.workers)  # fmt: skip
        engine = SearchEngine.create(cfg, run_dir)
    try:
        engine.run()
    finally:
        engine.close()
    return run_dir


def _evals_to(curve: list[dict[str, Any]], value: float | None) -> int | None:
    point = first_reaching(curve, value) if value is not None else None
    return point["evaluation"] if point else None


def _score_holdout(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Adds ``holdout_scores`` and ``holdout_mean`` (failed seeds count 0) to every row with a best loss;
    returns the same for the initial loss L_I (the reference every strategy starts from)."""
    from benchmarks.holdout import HoldoutScorer, holdout_seeds, mean_or_none

    seeds = holdout_seeds(args.holdout)
    scorer = HoldoutScorer(args.adapter, args.space, _adapter_options(args), seeds)
    try:
        for row in runs:
            if not row.get("best_prefix"):
                continue
            started = time.perf_counter()
            row["holdout_scores"] = scorer.score(row["best_prefix"])
            row["holdout_mean"] = mean_or_none(row["holdout_scores"])
            print(f"held-out  seed {row['seed']} {row['strategy']:8} {row['holdout_mean']:.4f} over {len(seeds)} "
                  f"seeds ({time.perf_counter() - started:.1f} s)  {row['best_formula']}")  # fmt: skip
        initial = next((r["initial_prefix"] for r in runs if r.get("initial_prefix")), None)
        if initial is None:
            return {}
        scores = scorer.score(initial)
        print(f"held-out  initial loss L_I {mean_or_none(scores):.4f}")
        return {"prefix": initial, "scores": scores, "mean": mean_or_none(scores), "seeds": seeds}
    finally:
        scorer.close()


def first_reaching(curve: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The first point of a best-so-far curve whose best metric is at least ``target``."""
    for point in curve:
        if point["best"] is not None and point["best"] >= target - 1e-12:
            return point
    return None


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}  # fmt: skip


def summarize(runs: list[dict[str, Any]], strategies: list[str]) -> dict[str, Any]:
    """Per strategy: mean/spread of proxy evaluations, seconds, best metric, evaluations and seconds to target."""
    out: dict[str, Any] = {}
    for strategy in strategies:
        rows = [r for r in runs if r["strategy"] == strategy]
        reached = [r for r in rows if r["evals_to_target"] is not None]
        out[strategy] = {
            "proxy_evaluations": _spread([r["proxy_evaluations"] for r in rows]),
            "seconds": _spread([r["seconds"] for r in rows]),
            "best_metric": _spread([r["best_metric"] for r in rows if r["best_metric"] is not None]),
            "reached_target": f"{len(reached)}/{len(rows)}",
            "evals_to_target": _spread([r["evals_to_target"] for r in reached]),
            "seconds_to_target": _spread([r["seconds_to_target"] for r in reached]),
            "evals_to_own_best": _spread([r["evals_to_own_best"] for r in rows if r.get("evals_to_own_best")]),
            "holdout_metric": _spread([r["holdout_mean"] for r in rows if r.get("holdout_mean") is not None]),
            # how far the search-time best sits above its loss trained again (the winner's curse, plus task luck)
            "search_minus_holdout": _spread([r["best_metric"] - r["holdout_mean"] for r in rows
                                             if r.get("holdout_mean") is not None and r["best_metric"] is not None]),
        }
    if "vanilla" in out and "cse" in out:
        pairs = {}
        for r in runs:
            pairs.setdefault(r["seed"], {})[r["strategy"]] = r
        factors = [p["vanilla"]["evals_to_target"] / p["cse"]["evals_to_target"] for p in pairs.values()
                   if "cse" in p and "vanilla" in p and p["cse"]["evals_to_target"] and p["vanilla"]["evals_to_target"]]
        converse = [p["cse"]["vanilla_evals_to_cse_best"] / p["cse"]["cse_evals_to_own_best"]
                    for p in pairs.values() if "cse" in p and p["cse"].get("vanilla_evals_to_cse_best")
                    and p["cse"].get("cse_evals_to_own_best")]  # fmt: skip
        out["cse_vs_vanilla"] = {
            "evaluation_factor": _spread(factors),
            "factor_to_reach_cse_best": _spread(converse),
            "total_evaluation_factor": out["vanilla"]["proxy_evaluations"]["mean"]
            / max(out["cse"]["proxy_evaluations"]["mean"], 1e-9),
            "seeds_where_cse_reached_vanilla_best": out["cse"]["reached_target"],
            # every seed reached vanilla's search-time best, each with at least the target factor
            "strict_target_met": bool(factors) and len(factors) == len(pairs) and min(factors) >= TARGET_FACTOR,
            "target_factor": TARGET_FACTOR,
            **_holdout_comparison(pairs),
        }  # fmt: skip
    return out


def _holdout_comparison(pairs: dict[int, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """CSE's found loss against vanilla's on the held-out seeds, and what each spent to find its loss.

    ``holdout_no_worse``: the mean paired difference (CSE - vanilla, per search seed) is at least minus two
    standard errors. ``found_factor``: vanilla's mean proxy evaluations until it found its best loss over
    CSE's. ``holdout_target_met``: both, with the factor at least :data:`TARGET_FACTOR`.
    """
    from benchmarks.holdout import paired_difference

    both = [p for _, p in sorted(pairs.items()) if "cse" in p and "vanilla" in p
            and p["cse"].get("holdout_mean") is not None and p["vanilla"].get("holdout_mean") is not None]  # fmt: skip
    if not both:
        return {}
    diff = paired_difference([p["cse"]["holdout_mean"] for p in both], [p["vanilla"]["holdout_mean"] for p in both])
    found = [p for p in both if p["cse"].get("evals_to_own_best") and p["vanilla"].get("evals_to_own_best")]
    factor = (statistics.fmean(p["vanilla"]["evals_to_own_best"] for p in found)
              / statistics.fmean(p["cse"]["evals_to_own_best"] for p in found)) if found else None  # fmt: skip
    no_worse = diff["mean"] + 2 * diff["se"] >= 0
    return {
        "holdout_difference": diff,
        "holdout_no_worse": no_worse,
        "found_factor": factor,
        "found_factor_per_seed": _spread([p["vanilla"]["evals_to_own_best"] / p["cse"]["evals_to_own_best"]
                                          for p in found]),
        "holdout_target_met": bool(no_worse and factor is not None and factor >= TARGET_FACTOR),
    }  # fmt: skip


def _plot(curves: dict[str, list[list[dict[str, Any]]]], runs: list[dict[str, Any]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = [r for r in runs if r.get("holdout_mean") is not None]
    fig, axes = plt.subplots(1, 3 if held else 2, figsize=(15 if held else 11, 4))
    colors = {"random": "#888888", "vanilla": "#d62728", "cse": "#1f77b4"}
    for strategy, strategy_curves in curves.items():
        for k, curve in enumerate(strategy_curves):
            pts = [p for p in curve if p["best"] is not None]
            if not pts:
                continue
            label = strategy if k == 0 else None
            for ax, key in ((axes[0], "evaluation"), (axes[1], "seconds")):
                ax.step([p[key] for p in pts], [p["best"] for p in pts], where="post", color=colors[strategy],
                        alpha=0.8, label=label)  # fmt: skip
    axes[0].set_xscale("log")
    axes[0].set_xlabel("proxy evaluations")
    axes[1].set_xlabel("wall-clock seconds")
    for ax in axes[:2]:
        ax.set_ylabel("best proxy metric so far")
        ax.grid(alpha=0.3)
        ax.legend()
    if held:
        names = list(curves)
        for k, strategy in enumerate(names):
            values = [r["holdout_mean"] for r in held if r["strategy"] == strategy]
            axes[2].scatter([k] * len(values), values, color=colors[strategy], alpha=0.7)
            if values:
                axes[2].hlines(statistics.fmean(values), k - 0.3, k + 0.3, color=colors[strategy])
        axes[2].set_xticks(range(len(names)), names)
        axes[2].set_ylabel("found loss, re-evaluated on held-out seeds")
        axes[2].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run every (seed, strategy) search, print the table, write CSV/JSON/PNG."""
    args = _parse_args(argv)
    from gp_autoloss.errors import GpAutolossError
    from gp_autoloss.reporting import load_run, run_summary

    tag = args.tag or "_".join(x for x in (args.adapter, args.detector) if x)
    runs_dir = Path(args.runs_dir) / f"search_efficiency_{tag}"
    runs: list[dict[str, Any]] = []
    curves: dict[str, list[list[dict[str, Any]]]] = {s: [] for s in args.strategies}
    order = sorted(args.strategies, key=lambda s: s != "vanilla")  # vanilla first: its best is the target
    for seed in args.seeds:
        target = args.target
        by_strategy: dict[str, list[dict[str, Any]]] = {}
        for strategy in order:
            try:
                run_dir = run_search(runs_dir / f"{strategy}_s{seed}", strategy, seed, args, args.fresh)
            except GpAutolossError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            summary = run_summary(load_run(run_dir))
            curve = summary["best_so_far"]
            best = summary["status"]["best_metric"]
            if target is None and strategy == "vanilla":
                target = best
            hit = first_reaching(curve, target) if target is not None else None
            row = {"seed": seed, "strategy": strategy, "proxy_evaluations": len(curve),
                   "seconds": round(summary["status"]["seconds"] or 0.0, 2), "best_metric": best,
                   "best_formula": summary["status"]["best_formula"], "target": target,
                   "evals_to_target": hit["evaluation"] if hit else None,
                   "evals_to_own_best": _evals_to(curve, best),
                   "seconds_to_target": round(hit["seconds"], 2) if hit else None, "run": str(run_dir),
                   "best_prefix": (summary["best"] or {}).get("prefix"),
                   "initial_prefix": (summary["initial"] or {}).get("prefix")}  # fmt: skip
            if strategy == "cse" and best is not None and "vanilla" in by_strategy:  # the converse comparison:
                own = first_reaching(curve, best)  # what vanilla paid to get as far as CSE got
                other = first_reaching(by_strategy["vanilla"], best)
                row["cse_evals_to_own_best"] = own["evaluation"] if own else None
                row["vanilla_evals_to_cse_best"] = other["evaluation"] if other else None
            by_strategy[strategy] = curve
            runs.append(row)
            curves[strategy].append(curve)
            print(f"seed {seed} {strategy:8} proxy evals {row['proxy_evaluations']:5}  {row['seconds']:8.1f} s  "
                  f"best {best if best is None else round(best, 4)}  to target: {row['evals_to_target']} evals")
    initial_holdout: dict[str, Any] = {}
    if args.holdout:
        try:
            initial_holdout = _score_holdout(runs, args)
        except GpAutolossError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    summary = summarize(runs, args.strategies)
    summary["initial_holdout"] = initial_holdout
    _print_summary(summary, args)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"search_efficiency_{tag}"
    with open(f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for r in runs for k in r)))
        writer.writeheader()
        writer.writerows({**r, "holdout_scores": " ".join("failed" if v is None else f"{v:.5f}"
                                                          for v in r.get("holdout_scores") or [])} for r in runs)
    settings = {k: v for k, v in vars(args).items() if k not in ("fresh",)}
    payload = {"settings": settings, "machine": _machine(), "runs": runs, "summary": summary,
               "curves": {s: [[{k: p[k] for k in ("evaluation", "seconds", "best")} for p in c] for c in cs]
                          for s, cs in curves.items()}}  # fmt: skip
    Path(f"{stem}.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    _plot(curves, runs, Path(f"{stem}.png"), f"search efficiency, {tag} adapter, {args.space}, seeds {args.seeds}")
    print(f"wrote {stem}.csv, .json and .png")
    return 0


def _machine() -> dict[str, Any]:
    import os

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip


def _fmt(spread: dict[str, Any], digits: int = 1) -> str:
    if not spread or spread.get("mean") is None:
        return "-"
    return f"{spread['mean']:.{digits}f} ± {spread['std']:.{digits}f}"


def _print_summary(summary: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n{'strategy':9} {'proxy evals':>14} {'seconds':>14} {'best metric':>16} {'reached':>8} "
          f"{'evals to target':>16} {'s to target':>14} {'held-out':>16}")
    for strategy in args.strategies:
        s = summary[strategy]
        print(f"{strategy:9} {_fmt(s['proxy_evaluations']):>14} {_fmt(s['seconds']):>14} "
              f"{_fmt(s['best_metric'], 4):>16} {s['reached_target']:>8} {_fmt(s['evals_to_target']):>16} "
              f"{_fmt(s['seconds_to_target']):>14} {_fmt(s['holdout_metric'], 4):>16}")
    cmp = summary.get("cse_vs_vanilla")
    if cmp:
        factor = cmp["evaluation_factor"]
        verdict = "meets" if cmp["strict_target_met"] else "misses"
        print(f"\nCSE reached vanilla's best in {cmp['seeds_where_cse_reached_vanilla_best']} seeds, with "
              f"{_fmt(factor)}x fewer proxy evaluations (min {factor['min']}); {verdict} the {TARGET_FACTOR:g}x "
              f"target. Total proxy evaluations: vanilla / cse = {cmp['total_evaluation_factor']:.1f}x.")
        conv = cmp["factor_to_reach_cse_best"]
        print(f"To reach CSE's best, vanilla needed {_fmt(conv)}x the proxy evaluations CSE needed "
              f"({conv['n']} seeds).")
        diff = cmp.get("holdout_difference")
        if diff:
            print(f"Held-out re-evaluation of the found losses ({diff['n']} seeds): CSE - vanilla = "
                  f"{diff['mean']:+.4f} ± {diff['se']:.4f} (SE); vanilla spent {cmp['found_factor'] or 0:.1f}x the proxy "
                  f"evaluations CSE spent until each found its loss; held-out target "
                  f"{'met' if cmp['holdout_target_met'] else 'not met'}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
