"""The search engine with real parts: real SQLite, real DEAP variation, real worker processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from gp_autoloss import parse
from gp_autoloss.search import RunStorage, SearchConfig, SearchEngine
from gp_autoloss.search.dedup import fingerprint
from tests.fault_plugin import behaviour

REPO = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, name: str, **overrides) -> tuple[SearchEngine, object]:
    cfg = SearchConfig(**{"space": "iou_reg", "strategy": "vanilla", "adapter": "faulty",
                          "plugins": ["tests.fault_plugin"], "generations": 2, "population": 12, "parents": 4,
                          "top_k": 4, "seed": 1, "time_limit": 2.0, **overrides})  # fmt: skip
    engine = SearchEngine.create(cfg, tmp_path / name)
    try:
        summary = engine.run()
    finally:
        engine.close()
    return engine, summary


def _table(run_dir: Path) -> dict[str, dict]:
    store = RunStorage.open(run_dir)
    try:
        return {r["key"]: r for r in store.results_table()}
    finally:
        store.close()


def test_fingerprint_merges_equivalent_formulas():
    a, b = parse("i / u + e", "iou_reg"), parse("e + i / u", "iou_reg")
    c = parse("i / u - e", "iou_reg")
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)
    assert fingerprint(parse("x * 1", "sigmoid_cls")) == fingerprint(parse("x", "sigmoid_cls"))


def test_failures_are_recorded_and_the_search_goes_on(tmp_path):
    engine, summary = _run(tmp_path, "faults", generations=3, population=16)
    rows = _table(tmp_path / "faults")
    failed = [r for r in rows.values() if r.get("proxy_ok") is False]
    kinds = {behaviour(parse(r["prefix"], "iou_reg")) for r in failed}
    assert failed, "the faulty adapter should have failed some candidates"
    assert kinds <= {"raise", "nan", "hang", "die", "hog"}
    for r in failed:
        assert r["status"] == "failed" and r["proxy_reason"]
    assert summary.generations == 3
    assert summary.best_metric is not None


def test_equivalent_candidates_are_evaluated_once(tmp_path):
    _run(tmp_path, "dedup", generations=3, population=20)
    groups = defaultdict(list)
    for r in _table(tmp_path / "dedup").values():
        if "proxy_ok" in r:
            groups[r["fingerprint"]].append(r)
    for rows in groups.values():
        computed = [r for r in rows if not r["proxy_cached"]]
        assert len(computed) == 1, [r["formula"] for r in rows]
        assert all(r["proxy_metric"] == computed[0]["proxy_metric"] for r in rows)


def test_same_seed_same_run_and_other_seed_differs(tmp_path):
    _run(tmp_path, "a", seed=5)
    _run(tmp_path, "b", seed=5)
    _run(tmp_path, "c", seed=6)
    a, b, c = (_table(tmp_path / n) for n in "abc")
    assert list(a) == list(b)
    assert [r.get("proxy_metric") for r in a.values()] == [r.get("proxy_metric") for r in b.values()]
    assert list(a) != list(c)


def test_offspring_are_new_and_within_limits(tmp_path):
    _run(tmp_path, "limits", generations=3, population=15, max_size=12, max_depth=5)
    rows = _table(tmp_path / "limits")
    assert len(rows) == 1 + 3 * 15  # every candidate is new (keys are unique)
    for r in rows.values():
        if r["origin"] != "initial":
            assert r["size"] <= 12


def _proxy_count(run_dir: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True, timeout=5)
        n = con.execute("SELECT COUNT(*) FROM results WHERE stage='proxy'").fetchone()[0]
        con.close()
        return int(n)
    except sqlite3.Error:
        return 0


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gp_autoloss.cli.main", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kw)  # fmt: skip


SEARCH_ARGS = ["search", "--space", "softmax_cls", "--strategy", "vanilla", "--adapter", "toy", "--generations", "3",
               "--population", "10", "--parents", "3", "--top-k", "3", "--seed", "11", "-q"]  # fmt: skip


def test_kill_9_and_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    full = _cli(*SEARCH_ARGS, "--out", str(tmp_path / "full"))
    assert full.wait(timeout=600) == 0, full.stderr.read().decode()
    total = _proxy_count(tmp_path / "full")

    victim = _cli(*SEARCH_ARGS, "--out", str(tmp_path / "killed"))
    deadline = time.time() + 300
    while _proxy_count(tmp_path / "killed") < total // 2 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    done_before = _proxy_count(tmp_path / "killed")
    assert 0 < done_before < total, "the kill should land mid-run"

    resumed = _cli("search", "--out", str(tmp_path / "killed"), "--resume", "-q")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()

    full_rows, resumed_rows = _table(tmp_path / "full"), _table(tmp_path / "killed")
    assert set(full_rows) == set(resumed_rows)
    for key, row in full_rows.items():
        assert resumed_rows[key].get("proxy_metric") == row.get("proxy_metric"), row["formula"]
        assert resumed_rows[key]["status"] == row["status"]
    assert _proxy_count(tmp_path / "killed") == total  # nothing repeated, nothing lost


def test_cli_bad_input_exits_2_and_leaves_the_run_untouched(tmp_path):
    run_dir = tmp_path / "run"
    ok = _cli(*SEARCH_ARGS[:-1], "--generations", "1", "--population", "3", "--out", str(run_dir))
    assert ok.wait(timeout=300) == 0, ok.stderr.read().decode()
    before = (run_dir / "run.sqlite").read_bytes()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    sqlite3.connect(foreign / "run.sqlite").execute("CREATE TABLE t(x)").connection.close()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.sqlite").write_bytes(b"this is not sqlite" * 100)
    cases = [
        ["search", "--out", str(run_dir)],  # exists, no --resume
        ["search", "--out", str(run_dir), "--resume", "--seed", "99"],
        ["search", "--out", str(tmp_path / "missing"), "--resume"],
        ["search", "--out", str(foreign), "--resume"],
        ["search", "--out", str(broken), "--resume"],
        ["report", str(broken)],
        ["search", "--out", str(tmp_path / "x1"), "--strategy", "nope"],
        ["search", "--out", str(tmp_path / "x2"), "--adapter", "nope"],
        ["search", "--out", str(tmp_path / "x3"), "--space", "nope"],
        ["search", "--out", str(tmp_path / "x4"), "--population", "0"],
        ["search", "--out", str(tmp_path / "x5"), "--population", "4", "--top-k", "5"],
        ["search", "--out", str(tmp_path / "x6"), "--config", str(tmp_path / "nope.toml")],
    ]
    for args in cases:
        proc = _cli(*args)
        out, err = proc.communicate(timeout=120)
        lines = err.decode().strip().splitlines()
        assert proc.returncode == 2, (args, err.decode())
        assert len(lines) == 1 and "Traceback" not in err.decode(), (args, err.decode())
    assert (run_dir / "run.sqlite").read_bytes() == before
    assert not any((tmp_path / f"x{k}").exists() for k in range(1, 7))


def test_same_seed_same_run_across_processes(tmp_path):
    """Set and dict orders that depend on memory addresses or string hashing must not leak into a run."""
    args = ["search", "--space", "softmax_cls", "--strategy", "vanilla", "--adapter", "faulty", "--plugin",
            "tests.fault_plugin", "--generations", "3", "--population", "15", "--p-crossover", "0.9", "--seed", "4",
            "--time-limit", "2", "-q"]  # fmt: skip
    procs = [_cli(*args, "--out", str(tmp_path / f"p{k}"), env={**os.environ, "PYTHONHASHSEED": str(k)})
             for k in (1, 2)]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    first, second = _table(tmp_path / "p1"), _table(tmp_path / "p2")
    assert list(first) == list(second)
    assert [r.get("proxy_metric") for r in first.values()] == [r.get("proxy_metric") for r in second.values()]
