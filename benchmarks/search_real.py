"""The paper's headline on a real detector: random vs vanilla vs CSE (and successive halving) at equal budget.

    python -m benchmarks.search_real                     # fcos_tiny's default proxy, 15 min per search, 2 seeds
    python -m benchmarks.search_real --quick             # the toy adapter, seconds: the pipeline, not the numbers
    python -m benchmarks.search_real --strategies cse cse_sh --seeds 0 1 2 --budget 1800

Every strategy gets the **same budget of evaluation time** per search seed (``--budget`` seconds: the seconds
of every result it stores -- checks, D_verify, rungs, proxy trainings; on a detector the search's own work
besides is a few seconds per generation): the search runs (``gp-autoloss search`` settings, one evaluation at
a time, ``--workers 1``, ``--parallel`` searches side by side, one core each) and is stopped at the first generation boundary after its evaluation time passes the
budget; what counts is what it had found *within* the budget,
read back from its run file: results are stored as they finish, each with its seconds, so the cumulative
evaluation time of every result is known, and the found loss is the best fitness whose training ended within
the budget (the initial loss L_I where none did). The best-so-far curve against time comes from the same.

Each found loss and L_I are then trained again on ``--holdout`` seeds no search used (:mod:`benchmarks.holdout`)
and compared with L_I seed by seed: mean paired difference ± standard error, and a verdict (``better``/``worse``
where the difference is beyond two standard errors, else ``within noise``).

Per strategy the table gives proxy evaluations (full ones), the cost of the losses successive halving stopped at a
rung (in full proxies; a loss costs its largest budget, as :func:`gp_autoloss.fidelity.full_proxy_equivalents`
counts: rungs continue one another), failed/NaN trainings, seconds, search-time best, held-out mAP, the paired difference
against L_I, the verdict, and held-out-better losses per hour of evaluation time. Writes
``search_real_<tag>.csv`` (one row per search), ``.json`` (runs, curves, summary) and ``.png`` (curves).
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

STRATEGIES = ("random", "vanilla", "cse", "cse_sh")
COLORS = {"random": "#888888", "vanilla": "#d62728", "cse": "#1f77b4", "cse_sh": "#2ca02c", "vanilla_sh": "#ff7f0e"}
#: --quick: the toy adapter with a budget of seconds
QUICK = {"adapter": "toy", "space": "softmax_cls", "budget": 4.0, "population": 20, "top_k": 2, "parents": 3,
         "holdout": 3, "seeds": [0, 1]}  # fmt: skip


class BudgetSpent(Exception):
    """Stops a search once its evaluation seconds passed the budget (after the result that passed it)."""


class _BudgetWatch:
    """A progress bar for the engine (``progress(total=, desc=)``) that raises :class:`BudgetSpent` after the
    first result that takes the run's evaluation seconds past the budget, inside a generation: a search does not
    run a whole generation beyond its budget (what lies beyond is not counted anyway, see :func:`read_run`)."""

    def __init__(self, run_dir: Path, budget: float) -> None:
        self.run_dir, self.budget = run_dir, budget

    def __call__(self, total: int = 0, desc: str = "") -> _BudgetWatch:
        return self

    def update(self, n: int = 1) -> None:
        if _evaluation_seconds(self.run_dir) >= self.budget:
            raise BudgetSpent

    def close(self) -> None:
        return None


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_real", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--adapter", default="mmdet", help="fitness adapter (default mmdet)")
    parser.add_argument("--detector", default="fcos_tiny", help="mmdet adapter: detector (default fcos_tiny)")
    parser.add_argument("--space", default="sigmoid_cls", help="searched branch (default sigmoid_cls)")
    parser.add_argument("--adapter-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="search seeds (default 0 1)")
    parser.add_argument("--budget", type=float, default=900.0, help="evaluation seconds per search (default 900)")
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=1, help="cse: proxy evaluations per generation (default 1)")
    parser.add_argument("--parents", type=int, default=3)
    parser.add_argument("--max-generations", type=int, default=200, help="a search's generations if the budget "
                        "does not stop it first (default 200)")  # fmt: skip
    parser.add_argument("--holdout", type=int, default=3, metavar="N", help="held-out seeds (default 3)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds one evaluation may take")
    parser.add_argument("--parallel", type=int, default=2, help="searches (and held-out trainings) at once, each "
                        "on one core (default 2: a 2-core machine runs two searches side by side)")  # fmt: skip
    parser.add_argument("--runs-dir", default="benchmarks/results/runs_real")
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--tag", help="file name tag (default: the detector, or the adapter)")
    parser.add_argument("--fresh", action="store_true", help="rerun searches whose run directory exists")
    parser.add_argument("--quick", action="store_true", help="the toy adapter, a few seconds per search")
    args = parser.parse_args(argv)
    if args.quick:  # the toy adapter; what was given explicitly stays
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
        args.detector = None
        args.tag = args.tag or "quick"
    if min(args.population, args.top_k, args.parents, args.max_generations, args.parallel) < 1 or args.budget <= 0:
        parser.error("--population, --top-k, --parents, --max-generations, --parallel must be >= 1 and --budget > 0")
    if args.holdout < 2:
        parser.error("--holdout must be >= 2 (a paired standard error needs two seeds)")
    return args


def _adapter_options(args: argparse.Namespace) -> dict[str, Any]:
    from gp_autoloss.cli.search_commands import parse_adapter_options

    options = parse_adapter_options(args.adapter_option)
    if args.adapter == "mmdet":
        options.setdefault("detector", args.detector)
        options.setdefault("generate_data", True)
    return options


def run_search(run_dir: Path, strategy: str, seed: int, args: argparse.Namespace) -> Path:
    """Run one search until its clock passes the budget (resuming one a killed benchmark left)."""
    from gp_autoloss.search import SearchConfig, SearchEngine

    if args.fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    if (run_dir / "run.sqlite").exists():
        if _evaluation_seconds(run_dir) >= args.budget:
            return run_dir
        engine = SearchEngine.open(run_dir, progress=_BudgetWatch(run_dir, args.budget))
    else:
        cfg = SearchConfig(space=args.space, strategy=strategy, adapter=args.adapter,
                           adapter_options=_adapter_options(args), generations=args.max_generations,
                           population=args.population, top_k=args.top_k, parents=args.parents, seed=seed,
                           time_limit=args.time_limit, workers=1)  # fmt: skip
        engine = SearchEngine.create(cfg, run_dir, progress=_BudgetWatch(run_dir, args.budget))

    def stop(event: Any) -> None:
        if _evaluation_seconds(run_dir) >= args.budget:
            raise BudgetSpent

    engine.subscribe(stop)
    try:
        engine.run()
    except BudgetSpent:
        pass
    finally:
        engine.close()
    return run_dir


def _search_and_read(run_dir: Path, strategy: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One search to its budget, then what it found within the budget (run in a worker process)."""
    started = time.perf_counter()
    run_search(run_dir, strategy, seed, args)
    return {**read_run(run_dir, args.budget), "wall": round(time.perf_counter() - started, 1)}


def _from_run_file(run_dir: Path, read: Any) -> Any:
    """``read(storage)`` on the run file of ``run_dir``, opened and closed around it."""
    from gp_autoloss.search import RunStorage

    store = RunStorage.open(run_dir)
    try:
        return read(store)
    finally:
        store.close()


def _clock(run_dir: Path) -> float:
    """The run's wall clock (all sessions)."""
    return _from_run_file(run_dir, lambda store: float(store.meta("seconds", "0") or 0))


def _evaluation_seconds(run_dir: Path) -> float:
    """The seconds of every result the run stored (checks, D_verify, rungs, proxy): its evaluation time."""
    query = "SELECT COALESCE(SUM(seconds), 0) FROM results"
    return _from_run_file(run_dir, lambda store: float(store.conn.execute(query).fetchone()[0]))


def read_run(run_dir: Path, budget: float) -> dict[str, Any]:
    """What a search had found within ``budget`` seconds of evaluation: its results in the order they finished,
    with their cumulative seconds; the best-so-far curve; the found loss; counts within the budget."""
    from gp_autoloss.fidelity import full_proxy_equivalents
    from gp_autoloss.search import RunStorage
    from gp_autoloss.search.strategies import STRATEGIES as REGISTRY

    store = RunStorage.open(run_dir)
    try:
        config = store.config
        fitness = REGISTRY.get(config["strategy"]).fitness()
        rows = store.conn.execute(
            "SELECT r.candidate, r.stage, r.ok, r.metric, r.seconds, r.cached, c.prefix, c.formula, c.origin "
            "FROM results r JOIN candidates c ON c.id = r.candidate ORDER BY r.rowid").fetchall()
    finally:
        store.close()
    elapsed, curve, best, initial = 0.0, [], None, None
    proxy_full = failed = 0
    rungs: dict[str, int] = {}
    trained: dict[int, list[str]] = {}  # per candidate, the proxy fidelities it trained
    for cand, stage, ok, metric, seconds, cached, prefix, formula, origin in rows:
        elapsed += float(seconds or 0.0)
        if elapsed > budget:
            break
        training = stage.startswith("proxy") and not cached
        if training:
            trained.setdefault(cand, []).append(stage)
        if training and stage == fitness:
            proxy_full += 1
        elif training:
            rungs[stage] = rungs.get(stage, 0) + 1
        if training and not ok:
            failed += 1
        if stage != fitness or not ok or metric is None:
            continue
        if origin == "initial" and initial is None:
            initial = {"prefix": prefix, "formula": formula, "metric": metric}
        if best is None or metric > best["metric"]:
            best = {"prefix": prefix, "formula": formula, "metric": metric, "seconds": elapsed, "candidate": cand}
            curve.append({"seconds": round(elapsed, 3), "best": metric})
    cost = full_proxy_equivalents(trained.values())
    return {"strategy": config["strategy"], "seed": config["seed"], "fitness": fitness, "curve": curve,
            "found": best or initial, "initial": initial, "proxy_evaluations": proxy_full, "rung_trainings": rungs,
            "proxy_cost": cost, "rung_cost": cost - proxy_full, "failed_trainings": failed,
            "seconds": round(min(elapsed, budget), 1), "search_best": best["metric"] if best else None,
            "clock": _clock(run_dir)}  # fmt: skip


def _verdict(diff: dict[str, Any]) -> str:
    if diff["mean"] is None:
        return "n/a"
    if diff["mean"] - 2 * diff["se"] > 0:
        return "better"
    if diff["mean"] + 2 * diff["se"] < 0:
        return "worse"
    return "within noise"


def score_holdout(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Train each found loss and L_I again on the held-out seeds (``--parallel`` trainings at once); per run the
    scores and the paired difference against L_I."""
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.holdout import holdout_seeds, mean_or_none, paired_difference
    from gp_autoloss.fitness import CandidateFailed, create_adapter
    from gp_autoloss.loss import parse

    seeds = holdout_seeds(args.holdout)
    initial_prefix = next(r["initial"]["prefix"] for r in runs if r.get("initial"))
    prefixes = list(dict.fromkeys([initial_prefix, *(r["found"]["prefix"] for r in runs)]))
    adapter = create_adapter(args.adapter, args.space, **_adapter_options(args))

    def train(job: tuple[str, int]) -> float | None:
        try:
            value = float(adapter.proxy(parse(job[0], args.space), job[1]))
        except CandidateFailed:
            return None
        return value if value == value else None  # NaN: failed

    started = time.perf_counter()
    jobs = [(p, seed) for p in prefixes for seed in seeds]
    try:
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            scores = dict(zip(jobs, pool.map(train, jobs)))
    finally:
        adapter.close()
    by_prefix = {p: [scores[(p, seed)] for seed in seeds] for p in prefixes}
    base = by_prefix[initial_prefix]
    print(f"held-out  {len(jobs)} trainings ({time.perf_counter() - started:.0f} s); initial loss "
          f"{mean_or_none(base):.4f}", flush=True)  # fmt: skip
    for run in runs:
        run["holdout_scores"] = by_prefix[run["found"]["prefix"]]
        run["holdout_mean"] = mean_or_none(run["holdout_scores"])
        diff = paired_difference([0.0 if v is None else v for v in run["holdout_scores"]],
                                 [0.0 if v is None else v for v in base])  # fmt: skip
        run["vs_initial"] = diff
        run["verdict"] = _verdict(diff)
        print(f"held-out  seed {run['seed']} {run['strategy']:10} {run['holdout_mean']:.4f}  {diff['mean']:+.4f} ± "
              f"{diff['se']:.4f} {run['verdict']:12}  {run['found']['formula']}", flush=True)  # fmt: skip
    return {"prefix": initial_prefix, "scores": base, "mean": mean_or_none(base), "seeds": seeds}


def summarize(runs: list[dict[str, Any]], strategies: list[str]) -> dict[str, Any]:
    """Per strategy, over the search seeds: means of the table's columns, and held-out-better losses per hour."""
    out: dict[str, Any] = {}
    for strategy in strategies:
        rows = [r for r in runs if r["strategy"] == strategy]
        if not rows:
            continue
        hours = sum(r["seconds"] for r in rows) / 3600
        better = sum(1 for r in rows if r.get("verdict") == "better")
        out[strategy] = {
            "searches": len(rows),
            "proxy_evaluations": statistics.fmean(r["proxy_evaluations"] for r in rows),
            "rung_cost": statistics.fmean(r["rung_cost"] for r in rows),
            "proxy_cost": statistics.fmean(r["proxy_cost"] for r in rows),
            "failed_trainings": statistics.fmean(r["failed_trainings"] for r in rows),
            "seconds": statistics.fmean(r["seconds"] for r in rows),
            "search_best": _mean([r["search_best"] for r in rows]),
            "holdout_mean": _mean([r.get("holdout_mean") for r in rows]),
            "vs_initial": _mean([r["vs_initial"]["mean"] for r in rows if r.get("vs_initial")]),
            "vs_initial_se": _mean([r["vs_initial"]["se"] for r in rows if r.get("vs_initial")]),
            "verdicts": [r.get("verdict", "n/a") for r in rows],
            "better_losses": better,
            "better_per_hour": better / hours if hours > 0 else None,
        }
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def _plot(runs: list[dict[str, Any]], budget: float, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    labelled: set[str] = set()
    for run in runs:
        pts = run["curve"]
        if not pts:
            continue
        xs = [p["seconds"] for p in pts] + [budget]
        ys = [p["best"] for p in pts] + [pts[-1]["best"]]
        label = None if run["strategy"] in labelled else run["strategy"]
        labelled.add(run["strategy"])
        ax.step(xs, ys, where="post", color=COLORS.get(run["strategy"], "#9467bd"), alpha=0.85, label=label)
    ax.set_xlabel("evaluation seconds")
    ax.set_ylabel("best proxy metric so far")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the searches, score the found losses on held-out seeds, write the table, the curves and the JSON."""
    args = _parse_args(argv)
    from gp_autoloss.search.strategies import STRATEGIES as REGISTRY

    unknown = [s for s in args.strategies if s not in REGISTRY]
    if unknown:
        print(f"search_real: unknown strategies {unknown}; known: {', '.join(REGISTRY.names())}", file=sys.stderr)
        return 2
    tag = args.tag or (args.detector if args.adapter == "mmdet" else args.adapter)
    runs_dir, out_dir = Path(args.runs_dir) / tag, Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plan = [(strategy, seed) for seed in args.seeds for strategy in args.strategies]
    runs = [None] * len(plan)
    # each search in its own process, --parallel at once (one core each: the adapters train on one thread)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=args.parallel, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_search_and_read, runs_dir / f"{strategy}_seed{seed}", strategy, seed, args): k
                   for k, (strategy, seed) in enumerate(plan)}  # fmt: skip
        for future in as_completed(futures):
            run = runs[futures[future]] = future.result()
            print(f"search    seed {run['seed']} {run['strategy']:10} {run['proxy_evaluations']:3} proxy evals, rungs "
                  f"{run['rung_trainings'] or '-'}, {run['failed_trainings']} failed, best {run['search_best']}  "
                  f"({run['wall']:.0f} s)", flush=True)  # fmt: skip
    initial = score_holdout(runs, args)
    summary = summarize(runs, args.strategies)
    settings = {k: v for k, v in vars(args).items() if k not in ("fresh",)}
    payload = {"settings": settings, "adapter_options": _adapter_options(args), "initial": initial,
               "runs": runs, "summary": summary, "seconds": round(time.perf_counter() - started, 1),
               "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                           "cpus": _cpus(), "date": time.strftime("%Y-%m-%d")}}  # fmt: skip
    stem = out_dir / f"search_real_{tag}"
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    with open(stem.with_suffix(".csv"), "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["strategy", "seed", "proxy_evaluations", "rung_trainings", "rung_cost", "failed_trainings",
                         "seconds", "search_best", "holdout_mean", "vs_initial", "vs_initial_se", "verdict", "formula"])
        for r in runs:
            d = r.get("vs_initial") or {}
            writer.writerow([r["strategy"], r["seed"], r["proxy_evaluations"], json.dumps(r["rung_trainings"]),
                             round(r["rung_cost"], 3), r["failed_trainings"], r["seconds"], r["search_best"],
                             r.get("holdout_mean"), d.get("mean"), d.get("se"), r.get("verdict"),
                             r["found"]["formula"]])  # fmt: skip
    _plot(runs, args.budget, stem.with_suffix(".png"),
          f"{tag}: best-so-far within {args.budget:g} s of evaluation per search")
    print_table(summary, initial, args)
    print(f"wrote {stem}.json/.csv/.png ({payload['seconds']:.0f} s)")
    return 0


def print_table(summary: dict[str, Any], initial: dict[str, Any], args: argparse.Namespace) -> None:
    """The per-strategy table."""
    print(f"\n{len(args.seeds)} search seeds, {args.budget:g} s each, held-out seeds {args.holdout}; "
          f"initial loss held-out {initial['mean']:.4f}")
    print(f"{'strategy':10} {'proxy':>6} {'rungs':>6} {'failed':>6} {'seconds':>8} {'search best':>11} "
          f"{'held-out':>9} {'vs L_I':>16}  verdicts / better per hour")
    for name, s in summary.items():
        vs = "-" if s["vs_initial"] is None else f"{s['vs_initial']:+.4f} ± {s['vs_initial_se']:.4f}"
        best = "-" if s["search_best"] is None else f"{s['search_best']:.4f}"
        held = "-" if s["holdout_mean"] is None else f"{s['holdout_mean']:.4f}"
        per_hour = "-" if s["better_per_hour"] is None else f"{s['better_per_hour']:.2f}"
        print(f"{name:10} {s['proxy_evaluations']:6.1f} {s['rung_cost']:6.2f} {s['failed_trainings']:6.1f} "
              f"{s['seconds']:8.0f} {best:>11} {held:>9} {vs:>16}  {', '.join(s['verdicts'])} / {per_hour}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
