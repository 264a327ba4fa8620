"""The search report: real toy searches, the real SQLite run file, the CLI, the HTML page and its JSON twin.

The browser half (headless Chromium) is in ``test_report_browser.py``; both use the runs made here once
per session by :func:`report_runs`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gp_autoloss.reporting import load_run, render_html, run_summary
from gp_autoloss.reporting.data import open_readonly
from gp_autoloss.reporting.live import REPORT_FILE, live_report
from gp_autoloss.reporting.series import SCATTER_PER_GENERATION
from gp_autoloss.search import RunStorage, SearchConfig, SearchEngine, StorageError
from gp_autoloss.search.strategies import STRATEGIES, register_strategy
from gp_autoloss.search.strategies.builtin import CseStrategy
from tests.conftest import REPO_ROOT, run_cli

TOY = ["--space", "softmax_cls", "--adapter", "toy", "--generations", "2", "--population", "12", "--top-k", "3",
       "--parents", "3", "--seed", "0", "-q"]  # fmt: skip
FAULTY = ["--space", "iou_reg", "--strategy", "vanilla", "--adapter", "faulty", "--plugin", "tests.fault_plugin",
          "--generations", "3", "--population", "16", "--parents", "4", "--top-k", "4", "--seed", "1",
          "--time-limit", "1", "-q"]  # fmt: skip
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def _popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gp_autoloss.cli.main", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def make_hostile_run(run_dir: Path) -> Path:
    """A run file written through the real storage API whose formulas, reasons and config carry markup."""
    store = RunStorage.create(run_dir, {"space": "softmax_cls", "strategy": "cse", "generations": 1,
                                        "initial_formula": HOSTILE, "seed": 0})  # fmt: skip
    try:
        store.start_generation(0, [])
        for k, (status, stage) in enumerate([("evaluated", "proxy"), ("failed", "proxy"), ("rejected", "validness")]):
            cid = store.add_candidate(key=f"k{k}", formula=f"{HOSTILE} {k}", prefix=HOSTILE, fingerprint=str(k),
                                      generation=0, origin="mutation", parents=[], size=3, depth=2)  # fmt: skip
            ok = status == "evaluated"
            store.add_result(cid, "validness", stage != "validness", 1.0, "" if stage != "validness" else HOSTILE)
            if stage == "proxy":
                store.add_result(cid, "proxy", ok, 0.5 if ok else None, "" if ok else HOSTILE)
            store.set_status(cid, status, stage, "" if ok else HOSTILE)
        store.finish_generation(0, ["k0"], None, {"generated": 3, "unique": 3, "best_formula": HOSTILE})
    finally:
        store.close()
    return run_dir


def report_runs(base: Path) -> dict[str, Path]:
    """Real runs, made once per session under ``base``: toy cse/vanilla/random searches, a faulty-adapter
    search with failed candidates, an empty run, a run killed in the middle, and a run with hostile text."""
    runs = {name: base / name for name in ("cse", "vanilla", "random", "faulty", "empty", "killed", "hostile")}
    if (base / "done").exists():
        return runs
    procs = [_popen("search", *TOY, "--strategy", s, "--out", str(runs[s])) for s in ("cse", "vanilla", "random")]
    procs.append(_popen("search", *FAULTY, "--out", str(runs["faulty"])))
    RunStorage.create(runs["empty"], SearchConfig(adapter="toy").to_dict()).close()
    make_hostile_run(runs["hostile"])
    victim = _popen("search", *TOY, "--strategy", "vanilla", "--generations", "8", "--out", str(runs["killed"]))
    deadline = time.time() + 300
    while _generations_finished(runs["killed"]) < 1 and time.time() < deadline and victim.poll() is None:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()
    (base / "done").touch()
    return runs


def _generations_finished(run_dir: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(*) FROM generations WHERE finished=1").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    return report_runs(tmp_path_factory.getbasetemp() / "report_runs")


class _Page(HTMLParser):
    """Element ids, section contents and tags of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section: str | None = None
        self.in_section: dict[str, list[str]] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "section":
            self.section = a.get("id")
        if self.section:
            self.in_section.setdefault(self.section, []).append(tag + (f".{a['class']}" if a.get("class") else ""))

    def handle_data(self, data):
        self.text.append(data)


def parse_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _sql(run_dir: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


# ---- the page ---------------------------------------------------------------------------------------------------


def test_search_leaves_a_report_that_matches_the_run(runs):
    page_text = (runs["cse"] / REPORT_FILE).read_text()
    page = parse_page(page_text)
    for sid in ("overview", "progress", "evolution", "funnel", "leaderboard", "failures", "latest", "config"):
        assert sid in page.ids
    leader = page.in_section["leaderboard"]
    n_eval = _sql(runs["cse"], "SELECT COUNT(*) FROM candidates WHERE status='evaluated'")[0][0]
    assert leader.count("tr") == min(10, n_eval) + 1  # header row + one per evaluated loss
    assert leader.count("details.dag") == min(10, n_eval) and leader.count("svg") >= min(10, n_eval)
    best = _sql(runs["cse"], "SELECT c.formula, r.metric FROM candidates c JOIN results r ON r.candidate=c.id "
                             "WHERE r.stage='proxy' AND r.ok=1 ORDER BY r.metric DESC, c.id LIMIT 1")[0]  # fmt: skip
    assert f"{best[1]:.4f}" in page_text
    gens = _sql(runs["cse"], "SELECT stats FROM generations ORDER BY generation")
    funnel_rows = page.in_section["funnel"].count("tr") - 1
    assert funnel_rows == len(gens) == 2
    assert "2/2" in page_text and "finished" in page_text
    assert "Python" in page_text and "torch" in page_text  # the session that ran the search
    assert not list(runs["cse"].glob(".*.tmp"))  # atomic writes leave no temporary file behind


def test_page_is_self_contained(runs):
    text = render_html([load_run(runs["cse"]), load_run(runs["random"])])
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", text, re.I)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"<script[^>]+src=", text)


def test_hostile_text_is_escaped(runs):
    text = render_html([load_run(runs["hostile"])])
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    page = parse_page(text)
    assert [t for t, _ in page.tags].count("img") == 0
    assert sum(1 for t, a in page.tags if t == "script" and a.get("type") != "application/json") == 2  # ours


def test_comparison_overlays_every_run(runs, tmp_path):
    names = ("random", "vanilla", "cse")
    out = tmp_path / "compare.html"
    proc = run_cli("report", *(str(runs[n]) for n in names), "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    page = parse_page(text)
    for name in names:
        assert f"{name} · {name}" in text
    # each progress chart draws one staircase per run, each legend names every run
    assert page.in_section["progress"].count("path.line") == 2 * len(names)
    assert page.in_section["funnel"].count("table.funnel num") == len(names)
    assert page.in_section["leaderboard"].count("table.leaderboard") == len(names)
    assert page.in_section["evolution"].count("g.points") == len(names)


def test_scatter_keeps_the_best_of_each_generation(runs):
    run = load_run(runs["random"])
    points = run_summary(run)["evolution"]
    per_gen: dict[int, list[float]] = {}
    for c in run.candidates:
        if c.get("proxy_ok"):
            per_gen.setdefault(max(c["generation"], -1), []).append(c["proxy_metric"])
    assert sorted({p["generation"] for p in points}) == sorted(per_gen)
    for gen, metrics in per_gen.items():
        shown = sorted((p["metric"] for p in points if p["generation"] == gen), reverse=True)
        assert shown == sorted(metrics, reverse=True)[:SCATTER_PER_GENERATION]


def test_empty_killed_and_faulty_runs_render(runs):
    empty = run_summary(load_run(runs["empty"]))
    assert empty["status"]["state"] == "empty" and empty["leaderboard"] == [] and empty["best_so_far"] == []
    assert "No loss has a proxy metric yet" in render_html([load_run(runs["empty"])])

    killed = run_summary(load_run(runs["killed"]))
    assert killed["status"]["state"] == "running"
    assert killed["status"]["generations_finished"] < killed["status"]["generations_planned"]
    assert "Not finished" in render_html([load_run(runs["killed"])])

    faulty = run_summary(load_run(runs["faulty"]))
    n_failed = _sql(runs["faulty"], "SELECT COUNT(*) FROM candidates WHERE status='failed'")[0][0]
    assert n_failed > 0
    groups = [g for g in faulty["failure_groups"] if g["status"] == "failed"]
    assert sum(g["count"] for g in groups) == n_failed
    text = render_html([load_run(runs["faulty"])])
    for g in groups:
        assert g["example_formula"].replace("<", "&lt;") in text.replace("&#x27;", "'")


def test_report_of_a_run_being_written(tmp_path):
    """Reports rendered over and over while a real search writes the run all succeed and leave it healthy."""
    run_dir = tmp_path / "live"
    proc = _popen("search", *TOY, "--strategy", "vanilla", "--generations", "4", "--out", str(run_dir))
    states = []
    try:
        while proc.poll() is None:
            if (run_dir / "run.sqlite").exists():
                try:
                    summary = run_summary(load_run(run_dir))
                except StorageError as exc:  # the file exists a moment before its schema is committed
                    assert "not a gp-autoloss run" in str(exc), exc
                    continue
                render_html([load_run(run_dir)])
                states.append((summary["status"]["state"], summary["status"]["candidates"]))
            time.sleep(0.05)
    finally:
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert any(state == "running" for state, _ in states)
    assert states == sorted(states, key=lambda s: s[1])  # candidates only ever grow
    assert run_summary(load_run(run_dir))["status"]["state"] == "finished"
    assert _sql(run_dir, "PRAGMA integrity_check") == [("ok",)]


# ---- the search keeps RUN/report.html up to date ------------------------------------------------------------


def test_search_rewrites_the_report_after_every_generation(tmp_path):
    seen: list[tuple[int, str | None]] = []
    run_dir = tmp_path / "watched"

    @register_strategy("report_watch")
    class Watching(CseStrategy):  # the real cse strategy, reading the report before each generation
        def propose(self, generation, parents, rng, known):
            page = (run_dir / REPORT_FILE).read_text()
            meta = json.loads(re.search(r'id="report-meta">(.*?)</script>', page).group(1))
            seen.append((generation, meta["runs"][0]["generations_finished"]))
            return super().propose(generation, parents, rng, known)

    try:
        cfg = SearchConfig(space="softmax_cls", strategy="report_watch", adapter="toy", generations=3, population=10,
                           top_k=2, parents=2, seed=3)  # fmt: skip
        engine = SearchEngine.create(cfg, run_dir)
        engine.subscribe(live_report)  # as the CLI's search command does
        try:
            engine.run()
        finally:
            engine.close()
    finally:
        STRATEGIES.remove("report_watch")
    assert seen == [(0, 0), (1, 1), (2, 2)]  # written after L_I and after every generation
    final = json.loads(re.search(r'id="report-meta">(.*?)</script>', (run_dir / REPORT_FILE).read_text()).group(1))
    assert final["runs"][0] == {"run": str(run_dir), "state": "finished", "candidates": 31, "generations_finished": 3}


def test_a_report_that_cannot_be_written_does_not_stop_the_search(tmp_path, caplog):
    run_dir = tmp_path / "blocked"
    (run_dir / REPORT_FILE).mkdir(parents=True)  # os.replace onto a directory fails
    cfg = SearchConfig(space="softmax_cls", strategy="cse", adapter="toy", generations=2, population=8, top_k=2,
                       parents=2, seed=0)  # fmt: skip
    engine = SearchEngine.create(cfg, run_dir)
    engine.subscribe(live_report)
    try:
        with caplog.at_level("WARNING", logger="gp_autoloss.report"):
            summary = engine.run()
    finally:
        engine.close()
    assert summary.generations == 2 and summary.best_metric is not None
    warnings = [r for r in caplog.records if r.name == "gp_autoloss.report"]
    assert len(warnings) == 3 and "could not write" in warnings[0].getMessage()
    assert (run_dir / REPORT_FILE).is_dir() and not list(run_dir.glob(".*.tmp"))
    assert _sql(run_dir, "PRAGMA integrity_check") == [("ok",)]


# ---- read-only, JSON, CLI -------------------------------------------------------------------------------------


def test_report_never_writes_the_run_file(runs, tmp_path):
    before = (runs["faulty"] / "run.sqlite").read_bytes()
    for args in (["--html", str(tmp_path / "r.html")], ["--json"], ["--html"]):
        proc = run_cli("report", str(runs["faulty"]), *args)
        assert proc.returncode == 0, proc.stderr
    assert (runs["faulty"] / "run.sqlite").read_bytes() == before
    store = open_readonly(runs["faulty"])
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("DELETE FROM candidates")
    finally:
        store.close()


def test_json_has_what_the_page_shows(runs):
    proc = run_cli("report", str(runs["cse"]), "--json", "--top", "3")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("run", "config", "stage_totals", "generations", "best", "initial", "failures",  # kept keys
                "status", "funnel", "best_so_far", "evolution", "leaderboard", "failure_groups", "sessions"):
        assert key in data
    assert len(data["leaderboard"]) <= 3
    # best-so-far recomputed from the run file: computed proxy results in the order they finished
    rows = _sql(runs["cse"], "SELECT ok, metric FROM results WHERE stage='proxy' AND cached=0 ORDER BY created, "
                             "candidate")  # fmt: skip
    best, expected = None, []
    for ok, metric in rows:
        if ok and (best is None or metric > best):
            best = metric
        expected.append(best)
    assert [r["best"] for r in data["best_so_far"]] == expected
    stats = [json.loads(s) for (s,) in _sql(runs["cse"], "SELECT stats FROM generations ORDER BY generation")]
    for row, st in zip(data["funnel"], stats):
        for field in ("generated", "unique", "valid", "convergent", "verify_passed", "proxy_evaluated"):
            assert row[field] == st[field]
    n_bad = _sql(runs["cse"], "SELECT COUNT(*) FROM candidates WHERE status IN ('failed', 'rejected')")[0][0]
    assert sum(g["count"] for g in data["failure_groups"]) == n_bad == sum(data["failures"].values())


def test_json_of_several_runs_is_a_list(runs):
    proc = run_cli("report", str(runs["cse"]), str(runs["empty"]), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [d["status"]["state"] for d in data] == ["finished", "empty"]


def test_cli_bad_report_input_is_one_line_and_exit_2(runs, tmp_path):
    cases = [
        ["report", str(runs["cse"]), str(runs["random"]), "--html"],  # several runs need OUT.html
        ["report", str(runs["cse"]), "--html", str(tmp_path / "no" / "such" / "dir.html")],
        ["report", str(runs["cse"]), "--top", "0", "--html", str(tmp_path / "x.html")],
        ["report", str(tmp_path / "missing"), "--html", str(tmp_path / "y.html")],
    ]
    for args in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()
