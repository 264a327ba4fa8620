"""Run files read back safely (issue 13.4): damaged but openable run files give one line naming the damage and
exit 2 from ``--resume``, ``report`` and ``export``; a read-only run directory still reports; the wall-clock of
a run sums its sessions. Real SQLite, real searches (the hash-scored ``faulty`` test adapter), the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gp_autoloss.cli.main import EXIT_BAD_INPUT, main
from gp_autoloss.search import RunStorage, SearchConfig, SearchEngine

PLUGIN = "tests.fault_plugin"
SEARCH = ["search", "--space", "iou_reg", "--strategy", "vanilla", "--adapter", "faulty", "--plugin", PLUGIN,
          "--generations", "1", "--population", "4", "--parents", "2", "--top-k", "2", "--time-limit", "20", "-q"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small finished search."""
    run_dir = tmp_path_factory.mktemp("runs") / "done"
    assert main([*SEARCH, "--out", str(run_dir)]) == 0
    return run_dir


def test_initial_known_loss_name_starts_the_search(tmp_path):
    assert main([*SEARCH, "--initial", "iou", "--out", str(tmp_path / "run")]) == 0
    store = RunStorage.open(tmp_path / "run")
    try:
        initial = [r for r in store.results_table() if r["origin"] == "initial"]
    finally:
        store.close()
    assert [r["formula"] for r in initial] == ["1 - i / u"]


DAMAGE = {
    "dropped table": ("DROP TABLE results", "table 'results' is missing"),
    "config not JSON": ("UPDATE meta SET value='{not json' WHERE key='config'", "meta.config is not valid JSON"),
    "stats not JSON": ("UPDATE generations SET stats='{oops' WHERE generation=0",
                       "generation 0's stats is not valid JSON"),
    "rng_end 5": ("UPDATE generations SET stats=json_set(stats, '$.rng_end', 5) WHERE generation=0",
                  "generation 0's rng_end is not a random-number state"),
    "metric text": ("UPDATE results SET metric='abc' WHERE stage='proxy'", "proxy metric is 'abc', not a number"),
}  # fmt: skip

#: damage that only resuming reads: a report or an export of such a run may still succeed
_RESUME_ONLY = {"rng_end 5"}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", ["resume", "report", "export"])
def test_damaged_run_file_is_one_line_and_exit_2(damage, command, finished_run, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    shutil.copytree(finished_run, run_dir)
    sql, words = DAMAGE[damage]
    conn = sqlite3.connect(run_dir / "run.sqlite")
    conn.execute(sql)
    conn.commit()
    conn.close()
    argv = {"resume": ["search", "--out", str(run_dir), "--resume", "--plugin", PLUGIN, "-q"],
            "report": ["report", str(run_dir)],
            "export": ["export", str(run_dir)]}[command]  # fmt: skip
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if command != "resume" and damage in _RESUME_ONLY:
        assert rc == 0, err
        return
    assert rc == EXIT_BAD_INPUT, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err


# ---- a read-only run directory ------------------------------------------------------------------------------------


@pytest.fixture
def read_only_run(finished_run, tmp_path):
    """A copy of the finished run in a directory nobody can write (root included: the immutable attribute)."""
    run_dir = tmp_path / "ro"
    shutil.copytree(finished_run, run_dir)
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(run_dir)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a directory read-only for root here (no chattr +i)")
        undo = ["chattr", "-i", str(run_dir)]
    else:
        run_dir.chmod(0o555)
        undo = ["chmod", "755", str(run_dir)]
    yield run_dir
    subprocess.run(undo, check=True)


@pytest.mark.parametrize("html", [False, True])
def test_report_on_a_read_only_run_writes_elsewhere_and_says_where(html, read_only_run, tmp_path, capsys,
                                                                    monkeypatch):  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = sorted(p.name for p in read_only_run.iterdir())
    rc = main(["report", str(read_only_run), *(["--html"] if html else [])])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "read-only" in err and str(tmp_path / "cache") in err
    name = "report.html" if html else "evolution.png"
    written = list((tmp_path / "cache").rglob(name))
    assert len(written) == 1 and written[0].stat().st_size > 0
    assert f"wrote {written[0]}" in out
    assert sorted(p.name for p in read_only_run.iterdir()) == before


def test_report_output_dir(finished_run, tmp_path, capsys):
    rc = main(["report", str(finished_run), "--html", "--output-dir", str(tmp_path / "elsewhere")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "elsewhere" / "report.html").is_file()


# ---- wall-clock over sessions -------------------------------------------------------------------------------------


class _Killed(Exception):
    """Stands for the kill that ends a session in the middle of a generation."""


def _seconds(run_dir: Path) -> float:
    store = RunStorage.open(run_dir)
    try:
        return float(store.meta("seconds", "0") or 0)
    finally:
        store.close()


def test_wall_clock_sums_every_session(tmp_path, capsys):
    """A session killed in generation 1 after a slow generation 0, then a resumed one: the run's wall-clock
    holds both, not only the last one's."""
    run_dir = tmp_path / "run"
    cfg = SearchConfig(space="iou_reg", strategy="vanilla", adapter="faulty", plugins=[PLUGIN], generations=2,
                       population=4, parents=2, top_k=2, time_limit=20.0)  # fmt: skip

    def progress(total: int, desc: str):
        if desc.startswith("gen 1"):
            raise _Killed(desc)
        time.sleep(0.6)  # generation 0 and L_I: a session that surely takes a while before it is killed
        return None

    engine = SearchEngine.create(cfg, run_dir, progress=progress)
    with pytest.raises(_Killed):
        try:
            engine.run()
        finally:
            engine.close()
    first = _seconds(run_dir)
    assert first >= 1.0  # L_I's and generation 0's bars slept 0.6 s each before the kill
    started = time.perf_counter()
    assert main(["search", "--out", str(run_dir), "--resume", "--plugin", PLUGIN, "-q"]) == 0, capsys.readouterr()
    last_session = time.perf_counter() - started
    total = _seconds(run_dir)
    assert first < total <= first + last_session + 0.5
    summary = json.loads(_report_json(run_dir, capsys))
    assert summary["status"]["seconds"] == pytest.approx(total, abs=1e-3)


def _report_json(run_dir: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["report", str(run_dir), "--json"]) == 0
    return capsys.readouterr().out
