"""The benchmark scripts on tiny real runs (toy adapter): their tables agree with the run files they came from,
and the benchmarks README is generated from those results alone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from benchmarks import funnel, search_efficiency
from benchmarks.holdout import holdout_seeds, mean_or_none, paired_difference
from benchmarks.readme import render


def _one(db: Path, query: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute(query).fetchone()[0])
    finally:
        con.close()


def test_funnel_counts_match_the_run_and_shrink(tmp_path):
    out, runs = tmp_path / "results", tmp_path / "runs"
    assert funnel.main(["--population", "40", "--generations", "2", "--top-k", "3", "--parents", "3",
                        "--out-dir", str(out), "--runs-dir", str(runs)]) == 0  # fmt: skip
    rows = json.loads((out / "funnel_softmax_cls.json").read_text())["rows"]
    counts = [r["candidates"] for r in rows]
    assert counts[0] == 80 and counts == sorted(counts, reverse=True)  # a funnel: every stage keeps fewer
    db = runs / "funnel_softmax_cls" / "run.sqlite"
    computed = _one(db, "SELECT COUNT(*) FROM results r JOIN candidates c ON c.id = r.candidate "
                        "WHERE r.stage = 'proxy' AND r.cached = 0 AND c.generation >= 0")  # fmt: skip
    assert rows[-1]["candidates"] == computed <= 2 * 3  # top-K new proxy trainings per generation


def _efficiency(tmp_path: Path, *argv: str) -> tuple[Path, dict]:
    """Run search_efficiency on the toy adapter (2 held-out seeds) into tmp_path; its results folder and JSON."""
    out, runs = tmp_path / "results", tmp_path / "runs"
    assert search_efficiency.main([*argv, "--holdout", "2", "--out-dir", str(out), "--runs-dir", str(runs)]) == 0
    return out, json.loads((out / "search_efficiency_toy.json").read_text())


def test_search_efficiency_table_and_readme(tmp_path):
    out, data = _efficiency(tmp_path, "--seeds", "0", "--generations", "2", "--population", "12", "--top-k", "2",
                            "--parents", "3")  # fmt: skip
    rows = {r["strategy"]: r for r in data["runs"]}
    assert set(rows) == {"random", "vanilla", "cse"}
    for row in rows.values():
        db = Path(row["run"]) / "run.sqlite"
        assert row["proxy_evaluations"] == _one(db, "SELECT COUNT(*) FROM results WHERE stage='proxy' AND cached=0")
    vanilla = rows["vanilla"]
    assert vanilla["target"] == vanilla["best_metric"] and vanilla["evals_to_target"] <= vanilla["proxy_evaluations"]
    assert rows["cse"]["proxy_evaluations"] < vanilla["proxy_evaluations"]
    assert (out / "search_efficiency_toy.png").stat().st_size > 0
    page = render(out)
    assert "| vanilla |" in page and "results/search_efficiency_toy.png" in page
    assert "held-out" in page
    assert "*No results yet: run `python -m benchmarks.funnel`" in page  # nothing invented for what did not run


def test_search_efficiency_re_evaluates_the_found_losses_on_unused_seeds(tmp_path):
    from gp_autoloss.fitness import create_adapter
    from gp_autoloss.loss import parse, resolve_space

    _, data = _efficiency(tmp_path, "--seeds", "1", "--generations", "1", "--population", "10", "--top-k", "1",
                          "--parents", "2")  # fmt: skip
    seeds = holdout_seeds(2)
    assert not set(seeds) & {s * 1000 + 17 for s in range(1000)}  # never a search's evaluation seed
    adapter = create_adapter("toy", "softmax_cls")
    rows = {r["strategy"]: r for r in data["runs"]}
    for row in rows.values():  # the scores are the loss trained again under the held-out seeds
        loss = parse(row["best_prefix"], resolve_space("softmax_cls"))
        assert row["holdout_scores"] == [adapter.proxy(loss, seed) for seed in seeds]
        assert row["holdout_mean"] == sum(row["holdout_scores"]) / 2
    cmp = data["summary"]["cse_vs_vanilla"]
    diff = rows["cse"]["holdout_mean"] - rows["vanilla"]["holdout_mean"]
    assert abs(cmp["holdout_difference"]["mean"] - diff) < 1e-12
    assert cmp["holdout_no_worse"] == (diff >= 0)  # one seed: no spread, so the sign decides


def test_paired_difference_and_failed_scores():
    diff = paired_difference([0.5, 0.7, 0.6], [0.4, 0.7, 0.4])
    assert abs(diff["mean"] - 0.1) < 1e-12 and diff["n"] == 3
    assert abs(diff["se"] - diff["std"] / 3**0.5) < 1e-12
    assert mean_or_none([0.6, None]) == 0.3 and mean_or_none([]) is None


def test_run_all_groups_split_the_steps_without_overlap():
    """make bench (default group) and make bench-tables (--tables) together run every step once."""
    from benchmarks.run_all import STEPS, TABLE_STEPS, _parse_args, select_steps

    default = [s[0] for s in select_steps(_parse_args([]))]
    tables = [s[0] for s in select_steps(_parse_args(["--tables"]))]
    assert set(tables) == set(TABLE_STEPS) and not set(default) & set(tables)
    assert sorted(default + tables) == sorted(s[0] for s in STEPS)
    assert [s[0] for s in select_steps(_parse_args(["--all", "--skip", "loss_table"]))] == \
        [s[0] for s in STEPS if s[0] != "loss_table"]
    assert [s[0] for s in select_steps(_parse_args(["--only", "proxy_signal"]))] == ["proxy_signal"]


def test_search_real_keeps_to_the_budget_and_reports_what_it_found(tmp_path):
    """Equal budget: every search's found loss is the best fitness that finished within its budget of evaluation
    seconds (recomputed here from the run file), and the held-out comparison is paired with the initial loss."""
    from benchmarks import search_real

    out, runs = tmp_path / "out", tmp_path / "runs"
    budget = 2.0
    argv = ["--quick", "--strategies", "vanilla", "cse_sh", "--seeds", "3", "--budget", str(budget),
            "--holdout", "2", "--out-dir", str(out), "--runs-dir", str(runs)]
    assert search_real.main(argv) == 0
    data = json.loads((out / "search_real_quick.json").read_text())
    assert [r["strategy"] for r in data["runs"]] == ["vanilla", "cse_sh"]
    for run in data["runs"]:
        db = runs / "quick" / f"{run['strategy']}_seed3" / "run.sqlite"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT candidate, stage, ok, metric, seconds, cached FROM results ORDER BY rowid"
                               ).fetchall()  # fmt: skip
        finally:
            con.close()
        elapsed, best, beyond = 0.0, None, []
        for _cand, stage, ok, metric, seconds, cached in rows:
            elapsed += seconds
            if elapsed > budget:
                beyond.append((stage, cached))
                continue
            if stage == "proxy" and ok and (best is None or metric > best):
                best = metric
        assert sum(r[4] for r in rows) >= budget  # the search was given its whole budget
        # ... and stopped inside the generation: at most one proxy training finished after the budget was spent
        assert len([s for s, cached in beyond[1:] if s.startswith("proxy") and not cached]) <= 1
        assert run["search_best"] == best and run["found"]["metric"] == best and run["seconds"] <= budget
        base, scores = data["initial"]["scores"], run["holdout_scores"]
        assert len(scores) == 2 and run["vs_initial"]["n"] == 2
        assert abs(run["vs_initial"]["mean"] - (mean_or_none(scores) - mean_or_none(base))) < 1e-12
    sh = data["runs"][1]
    assert sum(sh["rung_trainings"].values()) >= sh["proxy_evaluations"] >= 1
    assert 0 <= sh["rung_cost"] < sum(sh["rung_trainings"].values())  # a loss costs its largest budget
    assert abs(sh["proxy_cost"] - sh["proxy_evaluations"] - sh["rung_cost"]) < 1e-9
    assert (out / "search_real_quick.png").is_file() and (out / "search_real_quick.csv").is_file()
    assert "the equal-budget comparison" in render(out)  # --quick results are not reported as numbers
