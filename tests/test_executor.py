"""The local executor isolates faults: raising, NaN, hanging and dying candidates become failed results."""

from __future__ import annotations

import pytest

from gp_autoloss import parse
from gp_autoloss.errors import ConfigError
from gp_autoloss.execution import EvalJob, create_executor
from gp_autoloss.execution.base import AdapterSpec
from tests.fault_plugin import score

SPACE = "iou_reg"
FORMULAS = {
    "ok1": "1 - i / u",
    "raise": "sin(i)",
    "nan": "cos(u)",
    "hang": "exp(e)",
    "die": "abs(u - i)",
    "ok2": "u - i",
}


def _jobs() -> list[EvalJob]:
    return [EvalJob(name, "proxy", parse(text, SPACE).to_prefix(), 0) for name, text in FORMULAS.items()]


def test_faults_become_failed_results_and_work_goes_on(tmp_path):
    spec = AdapterSpec("faulty", SPACE, {}, ("tests.fault_plugin",))
    with create_executor("local", spec, time_limit=3.0, log_path=str(tmp_path / "worker.log")) as ex:
        results = {r.job_id: r for r in ex.run(_jobs())}
    assert set(results) == set(FORMULAS)
    assert results["ok1"].ok and results["ok1"].metric == pytest.approx(score(parse(FORMULAS["ok1"], SPACE)))
    assert results["ok2"].ok and results["ok2"].metric == pytest.approx(score(parse(FORMULAS["ok2"], SPACE)))
    assert not results["raise"].ok and "RuntimeError: boom" in results["raise"].reason
    assert not results["nan"].ok and "nan" in results["nan"].reason
    assert not results["hang"].ok and "time limit" in results["hang"].reason
    assert not results["die"].ok and "SIGKILL" in results["die"].reason


def test_memory_hog_is_stopped_at_the_memory_limit(tmp_path):
    spec = AdapterSpec("faulty", SPACE, {}, ("tests.fault_plugin",))
    jobs = [EvalJob("hog", "proxy", parse("sqrt(u)", SPACE).to_prefix(), 0),
            EvalJob("after", "proxy", parse("u - i", SPACE).to_prefix(), 0)]  # fmt: skip
    with create_executor("local", spec, time_limit=60.0, memory_limit_mb=600) as ex:
        results = {r.job_id: r for r in ex.run(jobs)}
    assert not results["hog"].ok and "memory limit" in results["hog"].reason
    assert results["after"].ok


def test_two_workers_return_every_result(tmp_path):
    spec = AdapterSpec("faulty", SPACE, {}, ("tests.fault_plugin",))
    jobs = [EvalJob(f"j{k}", "verify", parse(t, SPACE).to_prefix(), 0)
            for k, t in enumerate(["i", "u", "e", "i + u", "u - i", "i * e"])]  # fmt: skip
    with create_executor("local", spec, time_limit=30.0, workers=2) as ex:
        results = list(ex.run(jobs))
    assert sorted(r.job_id for r in results) == sorted(j.job_id for j in jobs)
    assert all(r.ok for r in results)


def test_unbuildable_adapter_is_a_config_error(tmp_path):
    spec = AdapterSpec("toy", SPACE, {"no_such_option": 1}, ())
    with create_executor("local", spec, time_limit=30.0) as ex, pytest.raises(ConfigError):
        list(ex.run(_jobs()[:1]))


def test_unknown_executor():
    with pytest.raises(ConfigError, match="unknown executor"):
        create_executor("nope", AdapterSpec("toy", SPACE))
