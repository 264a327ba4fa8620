"""Training processes started by the fork server: same results as a new interpreter, killed as reliably."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

from detectors_adapter.fitness import MMDetFitnessAdapter  # noqa: E402
from gp_autoloss import known_loss  # noqa: E402
from gp_autoloss.fitness.base import CandidateFailed  # noqa: E402

pytestmark = pytest.mark.mmdet
REPO = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_forked_training_equals_a_new_interpreters(tiny_data: Path) -> None:
    results = {}
    for fork in (True, False):
        adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=2, threads=1, time_limit=300,
                                      fork_server=fork)  # fmt: skip
        try:
            results[fork] = adapter.train(known_loss("fli").to_prefix(), 3, "proxy")
        finally:
            adapter.close()
    forked, fresh = results[True], results[False]
    assert (forked["metric"], forked["last_loss"], forked["iters"]) == (fresh["metric"], fresh["last_loss"], fresh["iters"])
    assert forked["metrics"] == fresh["metrics"]


def test_the_time_limit_kills_a_forked_training_and_nothing_is_left(tiny_data: Path) -> None:
    from multiprocessing import forkserver

    adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=50, threads=1, time_limit=3.0)
    try:
        with pytest.raises(CandidateFailed, match="time limit of 3 s exceeded"):
            adapter.proxy(known_loss("fli"), seed=0)
        server = forkserver._forkserver._forkserver_pid
        assert server is not None and _alive(server)
        deadline = time.monotonic() + 10
        while [p for p in _children(server) if _alive(p)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in _children(server) if _alive(p)]
    finally:
        adapter.close()


DRIVER = """
import sys, threading, time
from multiprocessing import forkserver
from detectors_adapter.fitness import MMDetFitnessAdapter
from gp_autoloss import known_loss
adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=sys.argv[1], epochs=50, threads=1, time_limit=600)
threading.Thread(target=adapter.proxy, args=(known_loss("fli"), 0), daemon=True).start()
while forkserver._forkserver._forkserver_pid is None:
    time.sleep(0.1)
print(forkserver._forkserver._forkserver_pid, flush=True)
time.sleep(600)
"""


def test_a_killed_driver_leaves_no_forked_training_behind(tiny_data: Path) -> None:
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tiny_data)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True, start_new_session=True)  # fmt: skip
    try:
        server = int(driver.stdout.readline())
        deadline = time.monotonic() + 60
        while not _children(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        training = _children(server)
        assert training, "the training never started"
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: the server and the training must follow
        driver.wait()
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in [server, *training]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in [server, *training] if _alive(p)], (server, training, [Path(f"/proc/{p}/cmdline").read_bytes()[:300] for p in [server, *training] if _alive(p)])
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


UNGUARDED = """
import sys
from detectors_adapter.fitness import MMDetFitnessAdapter
from gp_autoloss import known_loss
print("script body ran", flush=True)
adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=sys.argv[1], epochs=1, threads=1, time_limit=300)
print("metric", adapter.train(known_loss("fl").to_prefix(), 0, "proxy")["metric"], flush=True)
adapter.close()
"""


def test_a_script_without_a_main_guard_trains_and_runs_once(tiny_data: Path, tmp_path: Path) -> None:
    """multiprocessing would import an unguarded main script again in the fork server and its children."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script), str(tiny_data)], cwd=REPO, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("script body ran") == 1 and out.stdout.count("metric ") == 1
