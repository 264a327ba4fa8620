"""The search as a pipeline of stages: every registered strategy's stages, a plugin stage end to end (the
worked example of docs/extending.md, on the real toy adapter), generation events, and no import of the reports
from the search."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gp_autoloss.errors import ConfigError
from gp_autoloss.reporting import load_run, render_html, run_summary
from gp_autoloss.reporting.text import format_report
from gp_autoloss.search import SEARCH_STAGES, STRATEGIES, SearchConfig, SearchEngine, Stage
from gp_autoloss.search.stages import funnel_columns
from tests.conftest import REPO_ROOT

PLUGIN = "tests.surrogate_stage_plugin"


def _run(run_dir: Path, **settings) -> tuple[list, object]:
    cfg = SearchConfig(**{"space": "softmax_cls", "adapter": "toy", "generations": 2, "population": 8,
                          "parents": 3, "top_k": 2, "seed": 1, **settings})  # fmt: skip
    engine = SearchEngine.create(cfg, run_dir)
    events: list = []
    engine.subscribe(events.append)
    try:
        summary = engine.run()
    finally:
        engine.close()
    return events, summary


# ---- every registered strategy (contract) -------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_is_a_list_of_registered_stages_ending_in_a_fitness(name):
    stages = STRATEGIES.get(name).pipeline()
    assert stages and all(isinstance(s, Stage) for s in stages)
    assert all(SEARCH_STAGES.get(s.name) is s for s in stages)
    assert stages[-1].results, "the last stage measures the fitness"
    fields = [c.field for c in funnel_columns(stages)]
    assert len(fields) == len(set(fields)), f"two counters of {name} write the same statistic"


def test_the_built_in_strategies_are_these_stages():
    assert [s.name for s in STRATEGIES.get("cse").pipeline()] == ["checks", "verify", "top_k", "proxy"]
    assert [s.name for s in STRATEGIES.get("vanilla").pipeline()] == ["proxy"]
    assert [s.name for s in STRATEGIES.get("random").pipeline()] == ["proxy"]
    assert STRATEGIES.get("cse").pipeline()[0].results == ("validness", "convergence")


def test_a_strategy_naming_an_unregistered_stage_is_refused_before_a_run_exists(tmp_path):
    from gp_autoloss.search.strategies.builtin import VanillaStrategy

    @STRATEGIES.register("ghost_stage")
    class Ghost(VanillaStrategy):
        name = "ghost_stage"
        stages = ("no_such_stage", "proxy")

    try:
        with pytest.raises(ConfigError, match="unknown search stage 'no_such_stage'"):
            SearchEngine.create(SearchConfig(strategy="ghost_stage", population=4, top_k=2, parents=2), tmp_path / "run")
    finally:
        STRATEGIES.remove("ghost_stage")
    assert not (tmp_path / "run").exists()


# ---- a plugin stage, as docs/extending.md shows it ------------------------------------------------------------


def test_the_documented_stage_example_is_the_tested_plugin():
    page = (REPO_ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n# tests/surrogate_stage_plugin\.py[^\n]*\n(.*?)```", page, re.S)
    assert block, "docs/extending.md lost the stage example"
    assert block.group(1) in (REPO_ROOT / "tests" / "surrogate_stage_plugin.py").read_text(encoding="utf-8")


def test_a_plugin_stage_runs_selects_counts_and_shows_in_the_report(tmp_path):
    run_dir = tmp_path / "half"
    events, summary = _run(run_dir, strategy="vanilla_half", plugins=[PLUGIN])
    assert [e.generation for e in events] == [-1, 0, 1] and events[0].stats == {}
    run = load_run(run_dir)
    assert PLUGIN in run.config["plugins"]  # a resume needs it: the run says so
    for event in events[1:]:
        st = event.stats
        gen = [c for c in run.candidates if c["generation"] == event.generation]
        kept = [c for c in gen if c["stage"] != "surrogate"]
        assert all("surrogate_ok" in c for c in gen)  # the stage measured every candidate
        assert st["surrogate_kept"] == len({c["fingerprint"] for c in kept}) <= (st["generated"] + 1) // 2
        assert st["proxy_evaluated"] + st["proxy_cached"] == len(kept)  # only the better half reached the proxy
        rejected = [c for c in gen if c["stage"] == "surrogate"]
        assert rejected and all(c["status"] == "rejected" and "better half" in c["reason"] for c in rejected)
        assert min(c["size"] for c in rejected) >= max(c["size"] for c in kept)
        assert not any("validness_ok" in c or "verify_ok" in c for c in gen)
    # the report's funnel (Table 2) has the stage's column, with the stored counts, without reporting/ knowing it
    data = run_summary(run)
    assert {"field": "surrogate_kept", "label": "surrogate: better half", "funnel": True} in data["funnel_columns"]
    assert [r["surrogate_kept"] for r in data["funnel"]] == [e.stats["surrogate_kept"] for e in events[1:]]
    page = render_html([run])
    assert "<th>surrogate: better half</th>" in page and "<th>D_verify passed</th>" not in page
    assert "surrogate_kept" in format_report(run).split("funnel per generation")[1]
    assert summary.generations == 2 and summary.best_metric is not None


def test_a_plugin_stage_run_resumes(tmp_path):
    run_dir = tmp_path / "half"
    _run(run_dir, strategy="vanilla_half", plugins=[PLUGIN], generations=1)
    engine = SearchEngine.open(run_dir, overrides={"generations": 2}, plugins=[PLUGIN])
    events: list = []
    engine.subscribe(events.append)
    try:
        engine.run()
    finally:
        engine.close()
    assert [e.generation for e in events] == [-1, 1]  # generation 0 came from the run file
    assert [r["surrogate_kept"] for r in run_summary(load_run(run_dir))["funnel"]][1] == events[1].stats[
        "surrogate_kept"]


def test_an_unsubscribed_callback_hears_nothing(tmp_path):
    heard: list = []
    cfg = SearchConfig(space="softmax_cls", adapter="toy", strategy="random", generations=1, population=3,
                       parents=2, top_k=2, seed=0)  # fmt: skip
    engine = SearchEngine.create(cfg, tmp_path / "run")
    unsubscribe = engine.subscribe(heard.append)
    unsubscribe()
    try:
        engine.run()
    finally:
        engine.close()
    assert heard == []


# ---- no engine -> reporting import ----------------------------------------------------------------------------


def test_the_search_package_does_not_import_the_reports():
    code = "import sys, gp_autoloss.search; print(sorted(m for m in sys.modules if m.startswith('gp_autoloss.reporting')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in (REPO_ROOT / "gp_autoloss" / "search").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []  # fmt: skip
            assert not any(n.startswith("gp_autoloss.reporting") for n in names), f"{path} imports {names}"


# ---- run files made before stages were composed ------------------------------------------------------------


def test_a_run_file_without_funnel_columns_reports_the_old_columns_and_resumes(tmp_path):
    from gp_autoloss.reporting.data import FUNNEL_FIELDS
    from gp_autoloss.search import RunStorage
    from gp_autoloss.search.stages.funnel import LEGACY_COLUMNS

    run_dir = tmp_path / "old"
    _run(run_dir, strategy="cse", generations=1)
    store = RunStorage.open(run_dir)
    try:  # as the engine before issue 15 left it: no meta.funnel
        store.conn.execute("DELETE FROM meta WHERE key='funnel'")
    finally:
        store.close()
    old = run_summary(load_run(run_dir))
    assert [c["field"] for c in old["funnel_columns"]] == [c.field for c in LEGACY_COLUMNS]
    assert [c["field"] for c in old["funnel_columns"] if c["funnel"]] == list(FUNNEL_FIELDS)
    engine = SearchEngine.open(run_dir, overrides={"generations": 2})
    try:
        engine.run()
    finally:
        engine.close()
    rows = run_summary(load_run(run_dir))["funnel"]
    assert len(rows) == 2 and all(isinstance(r["verify_passed"], int) for r in rows)


def test_damaged_funnel_columns_fall_back_to_the_old_ones(tmp_path):
    from gp_autoloss.search import RunStorage
    from gp_autoloss.search.stages.funnel import LEGACY_COLUMNS

    run_dir = tmp_path / "run"
    _run(run_dir, strategy="random", generations=1, population=3)
    for text in ("not json", '[["generated", "generated"]]', '{"a": 1}'):
        store = RunStorage.open(run_dir)
        try:
            store.set_meta("funnel", text)
        finally:
            store.close()
        data = run_summary(load_run(run_dir))
        assert [c["field"] for c in data["funnel_columns"]] == [c.field for c in LEGACY_COLUMNS]
        render_html([load_run(run_dir)])
