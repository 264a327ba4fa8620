"""Write ``benchmarks/README.md`` from the result files in ``benchmarks/results/`` (nothing typed in by hand).

    python -m benchmarks.readme            # after any benchmark; make bench calls it at the end

Every number in the page is read from the JSON a benchmark wrote, with that file's machine and date; a
benchmark whose results are missing gets a line saying how to produce them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path("benchmarks/results")
README = Path("benchmarks/README.md")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _each_result(results: Path, pattern: str) -> Iterator[tuple[Path, Any]]:
    """(path, parsed JSON) of the result files matching ``pattern``, in name order; unreadable ones skipped."""
    for path in sorted(results.glob(pattern)):
        data = _load(path)
        if data:
            yield path, data


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _spread(s: dict[str, Any] | None, digits: int = 1) -> str:
    if not s or s.get("mean") is None:
        return "-"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def _signed(s: dict[str, Any] | None) -> str:
    return "-" if not s or s.get("mean") is None else f"{s['mean']:+.4f}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _missing(what: str, command: str) -> str:
    return f"*No results yet: run `{command}` ({what}).*"


def section_steps(results: Path) -> str:
    data = _load(results / "run_all.json")
    if not data:
        return _missing("every benchmark", "make bench")
    rows = [[s["step"], f"`{s['command']}`", s["seconds"], s["exit"], s.get("date", "-"),
             "quick" if s.get("quick") else "full"] for s in data["steps"]]  # fmt: skip
    last = data["last_call"]
    total = sum(s["seconds"] for s in data["steps"] if not s.get("quick"))
    return (f"Last `run_all` call: {last['started']}, {last['seconds']:.0f} s, steps: {', '.join(last['steps'])}; "
            f"machine: {data['machine']['platform']}, Python {data['machine']['python']}. The full-size steps "
            f"below add up to {total:.0f} s ({total / 60:.0f} min); `date` is when their `run_all` call started."
            "\n\n" + _table(["step", "command", "seconds", "exit", "date", "size"], rows))


def section_search_efficiency(results: Path) -> str:
    parts = []
    for path, data in _each_result(results, "search_efficiency_*.json"):
        st, summary = data["settings"], data["summary"]
        rows = []
        for strategy in st["strategies"]:
            s = summary[strategy]
            rows.append([strategy, _spread(s["proxy_evaluations"]), _spread(s["seconds"]),
                         _spread(s["best_metric"], 4), s["reached_target"], _spread(s["evals_to_target"]),
                         _spread(s["seconds_to_target"]), _spread(s.get("evals_to_own_best") or {}),
                         _spread(s.get("holdout_metric") or {}, 4)])  # fmt: skip
        options = " ".join(st.get("adapter_option") or [])
        text = [f"**{path.stem.replace('search_efficiency_', '')}** — adapter `{st['adapter']}`"
                f"{' `' + st['detector'] + '`' if st.get('detector') else ''}, space `{st['space']}`, "
                f"{st['generations']} generations of {st['population']}, CSE top-K {st['top_k']}, parents "
                f"{st['parents']}, seeds {st['seeds']}{', options `' + options + '`' if options else ''}; "
                f"{data['machine']['cpus']} CPUs, {data['machine']['date']}. Target: "
                + (f"{st['target']}" if st.get("target") is not None else "vanilla's best metric of the same seed"),
                "", _table(["strategy", "proxy evaluations", "seconds", "best proxy metric", "reached target",
                            "proxy evals to target", "seconds to target", "proxy evals to own best",
                            f"found loss, held-out ({st.get('holdout', 0)} seeds)"], rows)]  # fmt: skip
        cmp = summary.get("cse_vs_vanilla")
        if cmp:
            factor = cmp["evaluation_factor"]
            met = cmp.get("strict_target_met", False)
            text.append("")
            text.append(f"CSE reached vanilla's best metric in {cmp['seeds_where_cse_reached_vanilla_best']} seeds"
                        + (f", with {_spread(factor)}× fewer proxy evaluations" if factor["n"] else "")
                        + f"; the strict target (vanilla's search-time best reached in every seed with ≥ "
                        f"{cmp['target_factor']:g}× fewer proxy evaluations) is **{'met' if met else 'not met'}**. "
                        f"Over the whole searches vanilla spent {cmp['total_evaluation_factor']:.1f}× the proxy "
                        "evaluations of CSE.")  # fmt: skip
            conv = cmp.get("factor_to_reach_cse_best") or {}
            if conv.get("n"):
                text.append(f"The converse: to reach CSE's best metric, vanilla needed {_spread(conv)}× the proxy "
                            f"evaluations CSE needed ({conv['n']} seeds).")
            diff = cmp.get("holdout_difference")
            if diff and diff.get("n"):
                text.append(
                    f"**Found losses re-evaluated** on {st.get('holdout')} seeds no search used (the paper's Table 5 "
                    f"trains the found losses again): CSE − vanilla = {diff['mean']:+.4f} ± {diff['se']:.4f} (standard "
                    f"error over {diff['n']} paired search seeds; spread {diff['std']:.4f}), i.e. CSE's loss is "
                    f"{'no worse than' if cmp['holdout_no_worse'] else 'worse than'} vanilla's within two standard "
                    f"errors; until it found its loss vanilla spent {_num(cmp['found_factor'], 1)}× the proxy evaluations "
                    f"of CSE (per seed {_spread(cmp['found_factor_per_seed'])}×). Held-out target (no worse, ≥ "
                    f"{cmp['target_factor']:g}× fewer): **{'met' if cmp['holdout_target_met'] else 'not met'}**."
                    + (f" The initial loss L_I scores {summary['initial_holdout']['mean']:.4f} on the same seeds."
                       if (summary.get("initial_holdout") or {}).get("mean") is not None else "")
                    + " Search-time best minus held-out score, mean over seeds: "
                    + ", ".join(f"{name} {_signed(summary[name].get('search_minus_holdout'))}"
                                for name in st["strategies"]) + ".")
            reached, runs = (int(x) for x in cmp["seeds_where_cse_reached_vanilla_best"].split("/"))
            if reached < runs:
                best = summary["cse"]["best_metric"]
                van = summary["vanilla"]["best_metric"]
                text.append(f"Where CSE stops short, its best is {_spread(best, 4)} against vanilla's "
                            f"{_spread(van, 4)} (mean ± std over seeds).")
        png = path.with_suffix(".png")
        if png.is_file():
            text += ["", f"![{path.stem}](results/{png.name})"]
        parts.append("\n".join(text))
    return "\n\n".join(parts) or _missing("Table 5", "python -m benchmarks.search_efficiency")


def section_proxy_cost(results: Path) -> str:
    """Where a proxy evaluation's seconds go (``benchmarks.proxy_cost``)."""
    parts = []
    for _path, data in _each_result(results, "proxy_cost_*.json"):
        m = data.get("mean") or {}
        if not m:
            continue
        whole = m["whole"]
        versus = data.get("versus") or {}
        v = versus.get("mean") or {}
        parts_keys = (("start-up (interpreter, imports, config, dataset, model, weights)", "startup"),
                      ("data loading (decode, augment)", "data"), ("learning (forward, backward, step)", "learning"),
                      ("rest of the train loop (hooks, epoch ends)", "train_rest"), ("val pass", "test"),
                      ("whole evaluation", "whole"),
                      ("CPU seconds of the training process (host steal excluded)", "cpu"))  # fmt: skip
        parts_keys = tuple((part, key) for part, key in parts_keys if key in m)
        header = ["part", "seconds", "share"]
        if v:
            other = ", ".join(f"{k}={json.dumps(val)}" for k, val in versus["options"].items())
            header += [f"with {other}", "ratio"]
        rows = []
        for part, key in parts_keys:
            row = [part, _num(m[key], 1), f"{m[key] / whole:.0%}"]
            if v:
                row += [_num(v.get(key), 1), f"{m[key] / v[key]:.2f}" if v.get(key) else "-"]
            rows.append(row)
        text = (f"**{data['detector']}** — {data['epochs']} epochs, {data['sizes'].get('proxy')} training and "
                f"{data['sizes'].get('val')} val images, {len(data['runs'])} runs, mAP "
                f"{_num(m.get('metric'))}; {data['machine']['processor']}, {data['machine']['date']}.")  # fmt: skip
        if v:
            text += (f" Side by side in one run, alternating: the default settings against {other} "
                     f"(mAP {_num(v.get('metric'))}): **{versus['ratio']:.2f}** of the time per evaluation.")
            warm = [(a["whole"], b["whole"]) for a, b in zip(data["runs"][1:], versus["runs"][1:])]
            if warm:
                text += (f" The first run of each adapter fills its caches (fork server start, frozen outputs); the "
                         f"runs after it: {sum(a for a, _ in warm) / sum(b for _, b in warm):.2f} of the time.")
        parts.append(text + "\n\n" + _table(header, rows))
    parts += [_proxy_operators(data) for _path, data in _each_result(results, "proxy_operators_*.json")]
    return "\n\n".join(parts) or _missing("the proxy cost breakdown", "python -m benchmarks.proxy_cost")


def _proxy_operators(data: dict[str, Any]) -> str:
    """The learning part opened by operator (``benchmarks.proxy_operators``)."""
    per_iter = data["ms_per_iteration"]
    total = sum(per_iter.values())
    rows = [[part, _num(ms, 1), f"{ms / total:.0%}"] for part, ms in sorted(per_iter.items(), key=lambda kv: -kv[1])]
    text = (f"**{data['detector']}, the learning part by operator** — torch.profiler over training iterations "
            f"{data['skip']}–{data['skip'] + data['iterations'] - 1} of one proxy training ({data['threads']} torch "
            f"thread; self CPU time of each operator, by what it belongs to; the time outside every operator is "
            f"the profiled window's rest); {total:.0f} ms per iteration; {data['machine']['processor']}, "
            f"{data['machine']['date']}.")  # fmt: skip
    conv = sum(ms for part, ms in per_iter.items() if part.startswith("convolution"))
    text += (f" The convolutions' arithmetic, forward and backward, is {conv / total:.0%} of an iteration: no cache or "
             f"start-up saving reaches it; only fewer or smaller convolutions (fewer iterations, smaller images or "
             f"heads) would, and each changes the proxy (a new `proxy_signal` validation).")  # fmt: skip
    return text + "\n\n" + _table(["part", "ms per iteration", "share"], rows)


def section_search_real(results: Path) -> str:
    """The equal-budget comparison on a real detector (``benchmarks.search_real``); ``--quick`` results are not
    numbers to report and are left out."""
    parts = []
    for path, data in _each_result(results, "search_real_*.json"):
        st = data["settings"]
        if st.get("quick"):
            continue
        rows = []
        for name, s in data["summary"].items():
            vs = "–" if s["vs_initial"] is None else f"{s['vs_initial']:+.4f} ± {s['vs_initial_se']:.4f}"
            rows.append([name, _num(s["proxy_evaluations"], 1), _num(s["rung_cost"], 2), _num(s["failed_trainings"], 1),
                         _num(s["seconds"], 0), _num(s["search_best"]), _num(s["holdout_mean"]), vs,
                         ", ".join(s["verdicts"]), _num(s["better_per_hour"], 2)])  # fmt: skip
        init = data["initial"]
        text = [f"**{path.stem.replace('search_real_', '')}** — adapter `{st['adapter']}`"
                f"{' `' + st['detector'] + '`' if st.get('detector') else ''}, space `{st['space']}`, "
                f"{st['budget']:g} s of evaluation per search, population {st['population']}, CSE top-K "
                f"{st['top_k']}, parents {st['parents']}, search seeds {st['seeds']}, {st['holdout']} held-out "
                f"seeds; L_I held-out {_num(init.get('mean'))}; {data['machine']['cpus']} CPUs, "
                f"{data['machine']['date']}, {data['seconds']:.0f} s in all.",
                "", _table(["strategy", "proxy evaluations", "stopped at a rung (full proxies)", "failed trainings",
                            "seconds", "search-time best", "found loss held-out", "vs L_I (paired ± se)",
                            "verdicts", "held-out-better losses per hour"], rows)]  # fmt: skip
        text += ["", _search_real_reading(data)]
        png = path.with_suffix(".png")
        if png.is_file():
            text += ["", f"![{path.stem}](results/{png.name})"]
        parts.append("\n".join(text))
    return "\n\n".join(parts) or _missing("the equal-budget comparison", "python -m benchmarks.search_real")


def _search_real_reading(data: dict[str, Any]) -> str:
    """What the equal-budget table shows, in words generated from its numbers."""
    runs = data["runs"]
    initial = data["initial"]["prefix"]
    moved = {name: sum(1 for r in runs if r["strategy"] == name and r["found"]["prefix"] != initial)
             for name in data["summary"]}  # fmt: skip
    better = [f"{r['strategy']} (seed {r['seed']})" for r in runs if r.get("verdict") == "better"]
    worse = [f"{r['strategy']} (seed {r['seed']})" for r in runs if r.get("verdict") == "worse"]
    gaps = []
    for name in data["summary"]:
        diffs = [r["search_best"] - r["holdout_mean"] for r in runs if r["strategy"] == name
                 and r.get("search_best") is not None and r.get("holdout_mean") is not None]  # fmt: skip
        if diffs:
            gaps.append(f"{name} {sum(diffs) / len(diffs):+.4f}")
    searches = len(runs) // max(len(data["summary"]), 1)
    out = ["**What it shows.** Searches whose found loss is not the initial loss L_I: "
           + ", ".join(f"{name} {n} of {searches}" for name, n in moved.items()) + "; the others kept L_I, "
           "whose held-out score is the reference itself (difference 0)."]
    if better:
        out.append(f"Held-out better than L_I beyond two standard errors: {', '.join(better)}.")
    else:
        out.append("No found loss beats L_I on the held-out seeds beyond two standard errors: every difference "
                   "is within noise at this budget.")
    if worse:
        out.append(f"Held-out worse than L_I beyond two standard errors: {', '.join(worse)}.")
    if gaps:
        out.append("Search-time best minus the same loss's held-out mean (the winner's curse plus the search "
                   "seed's luck), per strategy: " + ", ".join(gaps) + ".")
    found_at = []
    for name in data["summary"]:
        times = [f"{r['found']['seconds']:.0f}" for r in runs if r["strategy"] == name
                 and r["found"]["prefix"] != initial and r["found"].get("seconds") is not None]  # fmt: skip
        if times:
            found_at.append(f"{name} {' / '.join(times)} s")
    if found_at:
        out.append("Evaluation seconds until the training of a found loss other than L_I ended, per search seed: "
                   + ", ".join(found_at) + ".")
    return " ".join(out)


def section_funnel(results: Path) -> str:
    parts = []
    for _, data in _each_result(results, "funnel_*.json"):
        st = data["settings"]
        rows = [[r["stage"], r["candidates"], f"{r['percent_of_generated']:.2f}%", _num(r["ran_on"]),
                 _num(r["seconds"], 2), _num(r["ms_per_candidate"], 2)] for r in data["rows"]]  # fmt: skip
        parts.append(f"**{st['space']}** — CSE, adapter `{st['adapter']}`, {st['generations']} generations of "
                     f"{st['population']}, top-K {st['top_k']}; {data['machine']['cpus']} CPUs, "
                     f"{data['machine']['date']}.\n\n"
                     + _table(["stage", "candidates left", "of generated", "ran on", "seconds", "ms per candidate"],
                              rows))  # fmt: skip
    return "\n\n".join(parts) or _missing("Table 2", "python -m benchmarks.funnel")


def section_loss_tables(results: Path) -> str:
    parts = []
    for _, data in _each_result(results, "loss_table_*.json"):
        rows = []
        for s in data["table"]:
            mean = "failed" if s["mean_mAP"] is None else f"{s['mean_mAP']:.4f} ± {s['std_mAP']:.4f}"
            gap = "" if s["vs_baseline"] is None else f"{s['vs_baseline']:+.4f}"
            if s.get("se_paired") is not None:
                gap += f" ± {s['se_paired']:.4f}"
            rows.append([s["row"], mean, s["n"], s["failed"], gap, s["verdict"], f"{s['seconds']:.0f}"])
        noisy = sum(1 for s in data["table"] if s["verdict"] == "within noise")
        m = data["machine"]
        parts.append(f"**{data['detector']}** — {data['epochs']} epochs on {data['sizes']['proxy']} synthetic "
                     f"images, val on {data['sizes']['val']}, seeds {data['seeds']}; {m['cpus']} CPUs, "
                     f"{m['jobs']} trainings at once, {m['date']}. Baseline: {data['baseline']}.\n\n"
                     + _table(["losses", "bbox mAP (mean ± std)", "seeds", "failed",
                               "vs baseline (paired mean ± SE)", "verdict", "s per training"], rows)
                     + f"\n\n{noisy} of {len(data['table']) - 1} rows differ from the baseline by less than twice "
                     + ("the standard error of the paired difference (rows share each seed's start and batches): "
                        "those gaps are noise, not evidence; the others are beyond two standard errors."
                        if any("se_paired" in s for s in data["table"]) else
                        "the standard error of the difference (unpaired; results from before the pretrained "
                        "proxy): at this scale those gaps are noise, not evidence."))
    return "\n\n".join(parts) or _missing("Tables 6 and 7", "python -m benchmarks.loss_table")


def section_proxy_signal(results: Path) -> str:
    parts = []
    for _, data in _each_result(results, "proxy_signal_*.json"):
        st, sizes, m = data["settings"], data["sizes"], data["machine"]
        rows = [[t["target"], _num(t["value"]), t["wanted"], "met" if t["met"] else "**not met**"]
                for t in data["targets"]]
        ranking = "\n".join(f"- seed {seed}: " + ", ".join(f"{n} {data['per_seed'][seed][n]:.3f}" for n in order)
                            for seed, order in data["rankings"].items())
        parts.append(f"**{data['detector']}** — default proxy: pretrained backbone + neck "
                     f"({'yes' if st['pretrained'] else 'no'}), {st['epochs']} epochs on {sizes['proxy']} images, "
                     f"val on {sizes['val']}; D_verify {sizes['verify']} images × {st['verify_epochs']} passes; "
                     f"baseline {data['baseline']}; {m['cpus']} CPUs, two trainings side by side on one torch "
                     f"thread each, {m['date']}, {st['seconds']:.0f} s in all"
                     + (f" (15-minute load average {m['load_average_15min']:.1f} at the end: times include any "
                        "other work the machine ran)" if "load_average_15min" in m else "")
                     + (f"; the proxy trainings are those of the full run of {st['proxy_rows_from']}, the D_verify "
                        "trainings were rerun at the passes shown (`--rerun-verify`)" if "proxy_rows_from" in st
                        else "") + ".\n\n"
                     + _table(["target", "measured", "wanted", "verdict"], rows)
                     + f"\n\nRanking of the searched branch's losses per seed (best first):\n\n{ranking}\n\n"
                     f"D_verify vs proxy over {data['verify_pairs']} convergent candidates (bred from the known "
                     f"losses as a search's first generation is, plus the known losses), seed {data['seeds'][0]}: "
                     f"Spearman {_num(data['verify_spearman'], 3)}, {data['verify_distinct']} distinct D_verify "
                     "values.")
    return "\n\n".join(parts) or _missing("the proxy signal", "python -m benchmarks.proxy_signal")


def section_curves(results: Path) -> str:
    pngs = sorted(results.glob("convergence_*.png"))
    if not pngs:
        return _missing("Figure 3", "python -m benchmarks.convergence_curves")
    return "\n\n".join(f"![{p.stem}](results/{p.name})" for p in pngs)


def section_speed(results: Path) -> str:
    out = []
    check = _load(results / "check_speed.json")
    if check:
        m = check["meta"]
        rows = [[s["space"], f"{s['candidates_per_s']:.0f}", f"{s['valid_rate']:.1%}", s["passed"]]
                for s in check["spaces"]]  # fmt: skip
        out.append(f"**Checks** (`check_speed`, {m['n']} random trees per space, {m['threads']} torch thread, "
                   f"{m['cpus']} CPUs): {m['overall_candidates_per_s']:.0f} candidates/s overall (target ≥ 5,000/s)."
                   "\n\n" + _table(["space", "candidates/s", "valid", "passed all checks"], rows))
    loss = _load(results / "loss_speed.json")
    if loss:
        rows = [[r["loss"], r["shape"], r["compiled_us"], r["hand_us"], r["ratio"]] for r in loss["results"]]
        worst = max(r["ratio"] for r in loss["results"])
        out.append(f"**Compiled losses** (`loss_speed`, forward + backward, median of {loss['meta']['repeats']}): "
                   f"worst ratio compiled / hand-written torch {worst:.3f} (target ≤ {loss['meta']['target_ratio']})."
                   "\n\n" + _table(["loss", "shape", "compiled µs", "hand-written µs", "ratio"], rows))
    train = _load(results / "train_overhead.json")
    if train:
        rows = [[r["detector"], r["variant"], r["median_ms"], r["ratio"]] for r in train["summary"]]
        m = train["meta"]
        out.append(f"**Training iteration** (`train_overhead`, {m.get('device', 'cpu')}, batch {m['batch_size']}, "
                   f"{m['iters']} interleaved iterations; ratio = median paired t / t(native), target ≤ 1.05 for "
                   "`gp`).\n\n" + _table(["detector", "variant", "median ms", "ratio"], rows))
    report = _load(results / "report_speed.json")
    if report:
        out.append(f"**Report** (`report_speed`): a run with {report['candidates']} candidates — `report --html` "
                   f"{report['cli_report_html_seconds']:.2f} s as a new process ({report['html_bytes'] / 1e3:.0f} kB "
                   f"page), `report --json` {report['cli_report_json_seconds']:.2f} s.")
    ex = _load(results / "executor_speed.json")
    if ex:
        out.append(f"**Executors** (`executor_speed`, {ex['workers']} workers, {ex['generations']}×{ex['population']} "
                   f"toy CSE search, {ex['proxy_evaluations']} proxy evaluations): ray / local wall-clock "
                   f"{ex['ratio_ray_local']:.3f}; Ray start-up {ex['ray_init_seconds']:.1f} s once per search; same "
                   f"results on both: {ex['same_results']} ({ex['date']}).")
    gpu = _load(results / "gpu_smoke.json")
    if gpu:
        if gpu.get("skipped"):
            out.append(f"**GPU smoke** (`gpu_smoke`): skipped here ({gpu['skipped']}, {gpu['date']}).")
        else:
            ratios = ", ".join(f"{k} {v:.3f}" for k, v in gpu["overhead"].items())
            search = gpu.get("search") or {}
            out.append(f"**GPU smoke** (`gpu_smoke`, {gpu['gpu']}): GPLoss / native per iteration {ratios} (target "
                       f"≤ 1.02); short search exit {search.get('returncode')}, {search.get('seconds')} s.")
    return "\n\n".join(out) or _missing("speed", "make bench")


SECTIONS: list[tuple[str, Callable[[Path], str]]] = [
    ("Is the detector proxy an instrument? Level, noise, rank agreement, cost", section_proxy_signal),
    ("Search efficiency: random vs vanilla vs CSE (the paper's Table 5)", section_search_efficiency),
    ("Where a proxy evaluation's time goes", section_proxy_cost),
    ("Equal budget on a real detector: random, vanilla, CSE, successive halving", section_search_real),
    ("The filter funnel (Table 2)", section_funnel),
    ("Hand-designed vs searched losses on tiny detectors (Tables 6 and 7)", section_loss_tables),
    ("Convergence curves (Figure 3)", section_curves),
    ("Speed", section_speed),
    ("Steps of the last runs", section_steps),
]


def render(results: Path = RESULTS) -> str:
    """The README text from the results in ``results``."""
    head = ("# Benchmarks\n\nThe paper's comparisons, measured on the machine that ran them. Every table and plot "
            "below is generated from `benchmarks/results/` by `python -m benchmarks.readme`; `make bench` reruns "
            "the proxy's calibration, the toy searches and the speed measurements (`python -m benchmarks.run_all`, "
            "≤ 60 minutes on 2 CPU cores), `make bench-tables` the detector search comparison, the loss tables "
            "and curves (`--tables`); "
            "`--quick` for a smoke run, `--gpu` for the GPU check, each script has `--help` for bigger runs. "
            f"Page written {time.strftime('%Y-%m-%d %H:%M')}.\n")  # fmt: skip
    body = [f"## {title}\n\n{fn(results)}\n" for title, fn in SECTIONS]
    return "\n".join([head, *body])


def write_readme(results: Path = RESULTS, out: Path = README) -> Path:
    """Write :func:`render` to ``out``."""
    out.write_text(render(results), encoding="utf-8")
    return out


if __name__ == "__main__":  # pragma: no cover
    print(f"wrote {write_readme()}")
    sys.exit(0)
