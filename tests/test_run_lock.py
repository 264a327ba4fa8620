"""One writer per run: a second search of a run directory is refused while the first runs; a killed writer's
lock is gone with it. Real processes, real flock, real SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gp_autoloss.search.lock import RunBusyError, RunLock

REPO = Path(__file__).resolve().parents[1]

#: a search that takes a while: every evaluation of the faulty test adapter sleeps first
SLOW_SEARCH = ["search", "--space", "iou_reg", "--strategy", "vanilla", "--adapter", "faulty", "--plugin",
               "tests.fault_plugin", "--adapter-option", "sleep=0.4", "--generations", "3", "--population", "8",
               "--parents", "3", "--top-k", "3", "--seed", "2", "--time-limit", "5", "-q"]  # fmt: skip


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gp_autoloss.cli.main", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def _proxy_results(run_dir: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(*) FROM results WHERE stage='proxy'").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _wait_for_results(run_dir: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 300
    while _proxy_results(run_dir) < n:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "the first search made no progress"
        time.sleep(0.05)


def test_second_writer_is_refused_and_a_killed_writer_leaves_no_lock(tmp_path):
    run_dir = tmp_path / "R"
    first = _cli(*SLOW_SEARCH, "--out", str(run_dir))
    try:
        _wait_for_results(run_dir, 2, first)
        second = _cli("search", "--out", str(run_dir), "--resume", "--plugin", "tests.fault_plugin", "-q")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        assert err.strip().splitlines() == [f"gp-autoloss: error: {run_dir} is being written by process {first.pid}"]
        assert first.poll() is None, "the refused writer must not disturb the running one"
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # kill -9: the kernel drops the flock with the process
        first.wait()
    interrupted = _proxy_results(run_dir)
    resumed = _cli("search", "--out", str(run_dir), "--resume", "--plugin", "tests.fault_plugin", "-q")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "best loss:" in out
    assert _proxy_results(run_dir) > interrupted


def test_lock_names_its_holder_and_is_free_after_release(tmp_path):
    lock = RunLock(tmp_path)
    with pytest.raises(RunBusyError, match=f"is being written by process {os.getpid()}$"):
        RunLock(tmp_path)  # another open file description: flock conflicts even within one process
    lock.release()
    with RunLock(tmp_path) as again:
        assert again.held
    assert not again.held


def test_lock_of_a_process_killed_with_sigkill_is_released(tmp_path):
    code = ("import sys, time; from gp_autoloss.search.lock import RunLock; "
            "RunLock(sys.argv[1]); print('locked', flush=True); time.sleep(600)")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunBusyError, match=f"process {holder.pid}$"):
            RunLock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    RunLock(tmp_path).release()
