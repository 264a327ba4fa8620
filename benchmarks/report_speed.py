"""How long ``gp-autoloss report --html`` (and ``--json``) takes for a run with 10,000 candidates.

    python -m benchmarks.report_speed                 # 10,000 candidates, 20 generations
    python -m benchmarks.report_speed --n 50000 --repeat 1

Builds a run file through the real :class:`~gp_autoloss.search.storage.RunStorage` API (not timed): seeded
random losses of ``softmax_cls`` as candidates, each given a realistic fate (rejected by validness, by the
convergence checks, below the D_verify threshold, outside the top-K, proxy-evaluated, or failed in the proxy
run, with the engine's kinds of reasons), a generation record per generation with the funnel statistics. A
third of the candidates get a proxy metric, so the evolution scatter has thousands of points to draw.

Then times, best of ``--repeat``:

* ``report RUN --html OUT`` as a user runs it (a fresh ``python -m gp_autoloss.cli.main`` process: Python
  start-up and imports included);
* the same in-process (``load_run`` + ``write_html``, DAG drawings not cached);
* ``report RUN --json`` as a fresh process.

Prints the seconds and writes ``benchmarks/results/report_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gp_autoloss import random_loss
from gp_autoloss.search import RunStorage, SearchConfig
from gp_autoloss.search.rng import state_to_json

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parent.parent

#: candidate fates and their shares: (status, deciding stage, reason template)
FATES = (
    (0.07, "rejected", "validness", "value is NaN at realistic logits (x=[{a:.5f}, {b:.3f}], w={c:.4f})"),
    (0.40, "rejected", "convergence", "the loss does not depend on the prediction (x)"),
    (0.12, "rejected", "convergence", "not monotone: the loss rises from {a:.2f} to {b:.2f} as the score goes "
                                      "from -15 to -10 (positive score: target class 0's logit, w={c:.1f})"),
    (0.05, "rejected", "threshold", "D_verify metric below the top loss's ({a:.4g} < {b:.4g})"),
    (0.03, "rejected", "top_k", "not in the top 5 on D_verify"),
    (0.30, "evaluated", "proxy", ""),
    (0.03, "failed", "proxy", "RuntimeError: loss became nan at iteration {n} <script>alert(1)</script>"),
)


def _fate(rng: random.Random) -> tuple[str, str, str]:
    u = rng.random()
    for share, status, stage, template in FATES:
        if u < share:
            reason = template.format(a=rng.uniform(-20, 20), b=rng.uniform(-20, 20), c=rng.random(), n=rng.randint(1, 99))
            return status, stage, reason
        u -= share
    return FATES[-1][1], FATES[-1][2], ""


def build_run(run_dir: Path, n: int, generations: int, seed: int = 0) -> dict[str, Any]:
    """Write a run of ``n`` candidates in ``generations`` generations to ``run_dir``; returns counts."""
    rng = random.Random(seed)
    per_gen = n // generations
    config = SearchConfig(space="softmax_cls", strategy="cse", adapter="toy", generations=generations,
                          population=per_gen, top_k=5, parents=5, seed=seed).to_dict()  # fmt: skip
    store = RunStorage.create(run_dir, config)
    t0 = time.time()
    try:
        initial = random_loss("softmax_cls", rng)
        cid = store.add_candidate(key=initial.key, formula=initial.infix, prefix=initial.to_prefix(),
                                  fingerprint=initial.key, generation=-1, origin="initial", parents=[],
                                  size=initial.size, depth=initial.depth)  # fmt: skip
        for stage, metric in (("validness", 1.0), ("convergence", 1.0), ("verify", 0.4), ("proxy", 0.35)):
            store.add_result(cid, stage, True, metric, "", 0.01)
        store.set_status(cid, "evaluated", "proxy")
        made = 1
        for gen in range(generations):
            store.start_generation(gen, state_to_json(rng.getstate()))
            stats = {"generated": 0, "unique": 0, "valid": 0, "convergent": 0, "verify_passed": 0,
                     "proxy_evaluated": 0, "proxy_cached": 0, "failed": 0}  # fmt: skip
            best = 0.35
            while stats["generated"] < per_gen and made < n:
                loss = random_loss("softmax_cls", rng)
                if store.candidate_id(loss.key) is not None:
                    continue
                cid = store.add_candidate(key=loss.key, formula=loss.infix, prefix=loss.to_prefix(),
                                          fingerprint=loss.key, generation=gen, origin="mutation:insert",
                                          parents=[initial.key], size=loss.size, depth=loss.depth)  # fmt: skip
                made += 1
                stats["generated"] += 1
                stats["unique"] += 1
                status, stage, reason = _fate(rng)
                valid = stage != "validness"
                store.add_result(cid, "validness", valid, float(valid), "" if valid else reason, 0.0004)
                if valid:
                    stats["valid"] += 1
                    conv = stage != "convergence"
                    store.add_result(cid, "convergence", conv, float(conv), "" if conv else reason, 0.0004)
                    if conv:
                        stats["convergent"] += 1
                        store.add_result(cid, "verify", True, rng.uniform(0.0, 0.45), "", 2.0)
                        if stage != "threshold":
                            stats["verify_passed"] += 1
                if stage == "proxy":
                    ok = status == "evaluated"
                    metric = min(0.2 + 0.01 * gen + rng.gauss(0.1, 0.05), 0.6) if ok else None
                    store.add_result(cid, "proxy", ok, metric, reason, 30.0)
                    stats["proxy_evaluated"] += 1
                    stats["failed"] += 0 if ok else 1
                    best = max(best, metric or 0.0)
                store.set_status(cid, status, stage, reason)
            stats.update(best_metric=best, best_formula=initial.infix, rng_end=state_to_json(rng.getstate()))
            store.finish_generation(gen, [initial.key], 0.3, stats)
        store.set_meta("seconds", f"{time.time() - t0:.3f}")
        store.set_meta("finished", "1")
        return {"candidates": made, "proxy_results": store.count_results("proxy")}
    finally:
        store.close()


def _cli(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gp_autoloss.cli.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"report failed: {proc.stderr.strip()}")
    return seconds


def _in_process(run_dir: Path, out: Path) -> float:
    from gp_autoloss.reporting import load_run, write_html
    from gp_autoloss.reporting.dags import dag_svg

    dag_svg.cache_clear()
    start = time.perf_counter()
    write_html([load_run(run_dir)], out)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="candidates in the run (default 10000)")
    parser.add_argument("--generations", type=int, default=20, help="generations (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions, best kept (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results directory (default {RESULTS})")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="report-speed-") as tmp:
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        counts = build_run(run_dir, args.n, args.generations, args.seed)
        build_s = time.perf_counter() - t0
        print(f"built a run with {counts['candidates']} candidates ({counts['proxy_results']} proxy results) "
              f"in {build_s:.1f} s")  # fmt: skip
        html = Path(tmp) / "report.html"
        cli_html = min(_cli("report", str(run_dir), "--html", str(html)) for _ in range(args.repeat))
        page_bytes = html.stat().st_size
        in_proc = min(_in_process(run_dir, html) for _ in range(args.repeat))
        cli_json = min(_cli("report", str(run_dir), "--json") for _ in range(args.repeat))
        run_bytes = sum(p.stat().st_size for p in run_dir.iterdir() if p.is_file())
    result = {
        "candidates": counts["candidates"], "proxy_results": counts["proxy_results"],
        "generations": args.generations, "run_file_bytes": run_bytes, "html_bytes": page_bytes,
        "cli_report_html_seconds": round(cli_html, 3), "in_process_html_seconds": round(in_proc, 3),
        "cli_report_json_seconds": round(cli_json, 3), "repeat": args.repeat,
        "graphviz": shutil.which("dot") is not None, "python": platform.python_version(),
        "machine": platform.machine(), "platform": platform.platform(), "cpus": os.cpu_count(),
    }  # fmt: skip
    print(f"report --html (new process): {cli_html:.2f} s   in-process: {in_proc:.2f} s   "
          f"report --json: {cli_json:.2f} s   page {page_bytes / 1e3:.0f} kB")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / 'report_speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
