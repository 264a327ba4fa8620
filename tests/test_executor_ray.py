"""The ``ray`` executor on a real local Ray instance (2 CPUs): same results as ``local``, retries, options.

Faults every executor must survive (raising, NaN, hanging, dying and memory-hogging candidates) are checked by
the contract suite, tests/test_contract_executors.py; here is what only Ray does (retries, its options, a search).

Ray is started once for this module (``ray.init(num_cpus=2)``); every executor made here finds it running and
leaves it up. Skipped where ray is not installed (``make test`` installs it).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from gp_autoloss import parse  # noqa: E402
from gp_autoloss.errors import ConfigError  # noqa: E402
from gp_autoloss.execution import EvalJob, create_executor  # noqa: E402
from gp_autoloss.execution.base import AdapterSpec  # noqa: E402
from gp_autoloss.search import SearchConfig, SearchEngine  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.fault_plugin import score  # noqa: E402
from tests.test_search_engine import _proxy_count, _table  # noqa: E402

SPACE = "iou_reg"
FAULTY = AdapterSpec("faulty", SPACE, {}, ("tests.fault_plugin",))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _job(job_id: str, text: str, stage: str = "proxy") -> EvalJob:
    return EvalJob(job_id, stage, parse(text, SPACE).to_prefix(), 0)


def _search(run_dir: Path, executor: str, **overrides) -> dict[str, dict]:
    cfg = SearchConfig(**{"space": "softmax_cls", "strategy": "cse", "adapter": "toy", "generations": 2,
                          "population": 12, "top_k": 3, "parents": 3, "seed": 4, "executor": executor,
                          "verify_margin": 0.05,  # enough D_verify passes that the top-K slots fill
                          **overrides})  # fmt: skip
    engine = SearchEngine.create(cfg, run_dir)
    try:
        engine.run()
    finally:
        engine.close()
    return _table(run_dir)


def _outcome(rows: dict[str, dict]) -> dict[str, tuple]:
    """What a run decided for each candidate: status, stage reached, and its D_verify and proxy metrics."""
    return {k: (r["status"], r.get("verify_metric"), r.get("proxy_metric")) for k, r in rows.items()}


def _best(rows: dict[str, dict]) -> tuple[str, float]:
    scored = [r for r in rows.values() if r.get("proxy_ok")]
    best = max(scored, key=lambda r: r["proxy_metric"])
    return best["formula"], best["proxy_metric"]


def test_ray_search_equals_local_search(tmp_path):
    local = _search(tmp_path / "local", "local")
    remote = _search(tmp_path / "ray", "ray", executor_options={"num_cpus": 1})
    assert _outcome(remote) == _outcome(local)  # the same candidates, the same verdicts and metrics
    assert _best(remote) == _best(local)
    assert sum(1 for r in remote.values() if r.get("proxy_ok")) >= 3


def test_a_dying_worker_is_retried_then_failed(tmp_path):
    """Ray's own rule (the contract suite checks the failed result): a job whose worker dies runs again."""
    with create_executor("ray", FAULTY, time_limit=30.0, max_retries=1) as ex:
        results = {r.job_id: r for r in ex.run([_job("die", "abs(u - i)"), _job("ok", "u - i")])}
    assert not results["die"].ok and "worker died in all 2 attempt(s)" in results["die"].reason
    assert results["ok"].ok and results["ok"].metric == pytest.approx(score(parse("u - i", SPACE)))
    assert [e.attempt for e in ex.starts if e.job_id == "die"] == [0, 1]  # retried once, then failed


def test_memory_hog_is_failed_not_retried(tmp_path):
    jobs = [_job("hog", "sqrt(u)"), _job("after", "u - i")]
    with create_executor("ray", FAULTY, time_limit=60.0, memory_limit_mb=600, max_retries=2) as ex:
        results = {r.job_id: r for r in ex.run(jobs)}
    assert not results["hog"].ok and "memory limit of 600 MB" in results["hog"].reason
    assert results["after"].ok
    assert [e.attempt for e in ex.starts if e.job_id == "hog"] == [0]


def _kill_first_worker_mid_job(engine: SearchEngine, killed: list[tuple[str, int]], stop: threading.Event) -> None:
    """Wait for the engine's Ray executor to start a job, then SIGKILL that worker process while it runs."""
    while not stop.is_set():
        ex = engine._executor
        starts = list(ex.starts) if ex is not None else []
        if starts:
            time.sleep(0.3)  # well inside the job's 1.5 s
            os.kill(starts[0].pid, signal.SIGKILL)
            killed.append((starts[0].job_id, starts[0].pid))
            return
        time.sleep(0.02)


def test_a_worker_killed_mid_evaluation_is_retried_and_nothing_is_lost(tmp_path):
    common = {"space": SPACE, "strategy": "vanilla", "adapter": "faulty", "plugins": ["tests.fault_plugin"],
              "adapter_options": {"sleep": 1.5}, "generations": 1, "population": 4, "parents": 2, "top_k": 2,
              "seed": 2, "time_limit": 30.0}  # fmt: skip
    reference = _search(tmp_path / "local", "local", **common)

    cfg = SearchConfig(**common, executor="ray", executor_options={"max_retries": 2})
    engine = SearchEngine.create(cfg, tmp_path / "ray")
    killed: list[tuple[str, int]] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_worker_mid_job, args=(engine, killed, stop), daemon=True)
    killer.start()
    try:
        engine.run()
        starts = list(engine._executor.starts)
    finally:
        stop.set()
        killer.join()
        engine.close()
    assert killed, "no worker was killed"
    job_id, _ = killed[0]
    assert [e.attempt for e in starts if e.job_id == job_id] == [0, 1]  # the killed job ran again
    assert _outcome(_table(tmp_path / "ray")) == _outcome(reference)  # every result there, none failed by it


def test_bad_ray_options_are_one_line_errors(tmp_path):
    bad = [({"address": "not an address"}, "ray-address"), ({"num_cpus": -1}, "num-cpus"),
           ({"num_cpus": 0, "num_gpus": 0}, "num-cpus > 0"), ({"bogus": 1}, "executor .ray.: unknown option"),
           ({"max_retries": 1.5}, "max-retries")]  # fmt: skip
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            SearchConfig(adapter="toy", executor="ray", executor_options=options).validate()


def test_cli_ray_flags(tmp_path):
    proc = run_cli("search", "--adapter", "toy", "--ray-num-cpus", "1", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "needs --executor ray" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
    proc = run_cli("search", "--adapter", "toy", "--executor", "ray", "--ray-address", "no-port",
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 2 and "ray-address" in proc.stderr and not (tmp_path / "r").exists()


def test_cli_task_that_cannot_fit_the_local_instance(tmp_path):
    """A task asking for a GPU on a CPU-only local Ray instance would wait forever: one line, exit 2."""
    if ray.cluster_resources().get("GPU", 0) > 0:
        pytest.skip("this machine has a GPU")
    proc = run_cli("search", "--adapter", "toy", "--generations", "1", "--population", "4", "--top-k", "2",
                   "--parents", "2", "--executor", "ray", "--ray-num-gpus", "1", "-q", "--out", str(tmp_path / "g"))
    assert proc.returncode == 2, proc.stderr
    assert "asks for 1 GPU(s)" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_driver_killed_with_sigkill_resumes_on_ray(tmp_path):
    """kill -9 of a ray search's driver, then --resume: the run ends where an uninterrupted local run ends."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    search = ["search", "--space", "softmax_cls", "--strategy", "vanilla", "--adapter", "toy", "--generations", "3",
              "--population", "10", "--parents", "3", "--top-k", "3", "--seed", "11", "-q"]  # fmt: skip
    done = run_cli(*search, "--out", str(tmp_path / "local"), timeout=600)
    assert done.returncode == 0, done.stderr
    total = _proxy_count(tmp_path / "local")

    victim = subprocess.Popen([sys.executable, "-m", "gp_autoloss.cli.main", *search, "--executor", "ray",
                               "--out", str(tmp_path / "ray")], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while _proxy_count(tmp_path / "ray") < total // 2 and time.time() < deadline and victim.poll() is None:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    victim.wait()
    before = _proxy_count(tmp_path / "ray")
    assert 0 < before < total, "the kill should land mid-run"

    resumed = run_cli("search", "--out", str(tmp_path / "ray"), "--resume", "-q", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _outcome(_table(tmp_path / "ray")) == _outcome(_table(tmp_path / "local"))
    assert _proxy_count(tmp_path / "ray") == total  # nothing repeated, nothing lost
