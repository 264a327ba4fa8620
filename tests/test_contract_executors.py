"""The contract of the :class:`~gp_autoloss.execution.Executor` extension point, run over every executor.

The executors are collected from the registry when this module is imported: the built-in ones (``local``;
``ray``, skipped where ray is not installed), the installed plugins' (the example plugin's ``inline``) and those
of the modules named in ``GP_AUTOLOSS_PLUGINS``. A new executor is tested without editing this file::

    GP_AUTOLOSS_PLUGINS=my_plugin pytest tests/test_contract_executors.py -k my_executor

Every executor must return one result per job (any order, the jobs' ids) and turn a candidate's failure (the
adapter raises :class:`~gp_autoloss.fitness.CandidateFailed` or another exception, or returns NaN) into an
``ok=False`` result with a reason, the other jobs going on. The rest is what an executor claims in
:attr:`Executor.capabilities <gp_autoloss.execution.Executor.capabilities>`: ``time_limit`` (a hanging job is
stopped and reported), ``memory_limit`` (a job past ``memory_limit_mb`` likewise) and ``worker_death`` (a job whose
process dies is reported and later jobs still run). An item an executor does not claim is skipped, by reading
the claim. The jobs are scored by the ``faulty`` test adapter (:mod:`tests.fault_plugin`), which misbehaves on
purpose for some primitives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from gp_autoloss import parse
from gp_autoloss.errors import ConfigError
from gp_autoloss.execution import EvalJob, EvalResult, create_executor
from gp_autoloss.execution.base import CAPABILITIES, AdapterSpec, executor_factory, executor_names
from gp_autoloss.plugins import load_plugins
from tests.conftest import example_plugins
from tests.fault_plugin import score

load_plugins(example_plugins())  # installed plugins, GP_AUTOLOSS_PLUGINS's and the example: their executors are collected below

SPACE = "iou_reg"
#: the faulty adapter in every worker; ``refuse``: its candidates holding ``tanh`` raise CandidateFailed
FAULTY = AdapterSpec("faulty", SPACE, {"refuse": "tanh("}, ("tests.fault_plugin",))
#: job id -> formula; what the faulty adapter does with each is in its id
FORMULAS = {
    "ok1": "1 - i / u",
    "ok2": "u - i",
    "raise": "sin(i)",  # RuntimeError: boom
    "nan": "cos(u)",  # returns NaN
    "refused": "tanh(i)",  # CandidateFailed
    "hang": "exp(e)",  # sleeps an hour
    "die": "abs(u - i)",  # SIGKILLs its own process
    "hog": "sqrt(u)",  # holds 1 GiB resident, then sleeps
}

#: executor name -> options that keep a contract run short (a plugin's executor may instead give them with a
#: classmethod ``contract_options()`` on its class)
CONTRACT_OPTIONS: dict[str, dict[str, Any]] = {"ray": {"max_retries": 0}}


@contextlib.contextmanager
def _local_ray() -> Iterator[None]:
    """One local Ray instance for all of this module's ``ray`` tests (each executor finds it running)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


#: executor name -> what to set up once around its tests (only to save time: every test also works without)
SESSIONS = {"ray": _local_ray}


def contract_options(name: str) -> dict[str, Any]:
    """Executor ``name``'s options for a contract run: its ``contract_options()`` hook, else :data:`CONTRACT_OPTIONS`."""
    hook = getattr(executor_factory(name), "contract_options", None)
    return dict(hook()) if callable(hook) else dict(CONTRACT_OPTIONS.get(name, {}))


def capabilities(name: str) -> frozenset[str]:
    """What executor ``name`` claims to enforce beyond the basics (its ``capabilities``; none if undeclared)."""
    return frozenset(getattr(executor_factory(name), "capabilities", frozenset()))


def requires(name: str, capability: str) -> None:
    """Skip the calling test unless executor ``name`` claims ``capability``."""
    if capability not in capabilities(name):
        pytest.skip(f"executor {name!r} does not claim {capability!r} (its capabilities: "
                    f"{', '.join(sorted(capabilities(name))) or 'none'})")  # fmt: skip


def jobs(*ids: str, stage: str = "proxy") -> list[EvalJob]:
    """Jobs of :data:`FORMULAS` ``ids``, in that order."""
    return [EvalJob(i, stage, parse(FORMULAS[i], SPACE).to_prefix(), 0) for i in ids]


def run_jobs(name: str, job_list: list[EvalJob], tmp_path: Any, **kwargs: Any) -> dict[str, EvalResult]:
    """Run ``job_list`` on a fresh executor ``name``; results by job id (every job exactly once)."""
    settings = {"time_limit": 60.0, "log_path": str(tmp_path / "worker.log"), **kwargs}
    with create_executor(name, FAULTY, **settings, **contract_options(name)) as ex:
        results = list(ex.run(job_list))
    ids = [r.job_id for r in results]
    assert sorted(ids) == sorted(j.job_id for j in job_list), f"{name}: results {ids} for jobs {job_list}"
    return {r.job_id: r for r in results}


def assert_scored(results: dict[str, EvalResult], *ids: str) -> None:
    """Jobs ``ids`` succeeded with the faulty adapter's metric of their formula."""
    for i in ids:
        r = results[i]
        assert r.ok and r.metric == pytest.approx(score(parse(FORMULAS[i], SPACE))), r


def assert_failed(results: dict[str, EvalResult], job_id: str, *words: str) -> None:
    """Job ``job_id`` is a failed result, no metric, whose reason holds ``words`` (case-insensitive)."""
    r = results[job_id]
    assert not r.ok and r.metric is None and r.reason.strip(), r
    for word in words:
        assert word.lower() in r.reason.lower(), r


@pytest.fixture(scope="module", params=executor_names())
def executor(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each registered executor's name (skipped when its dependency is missing), set up once per module."""
    name = request.param
    try:
        executor_factory(name)
    except ConfigError as exc:  # e.g. ray not installed
        pytest.skip(str(exc))
    with SESSIONS.get(name, contextlib.nullcontext)():
        yield name


# ---- every executor ---------------------------------------------------------------------------------------------


def test_capabilities_are_declared_from_the_known_ones(executor):
    assert capabilities(executor) <= set(CAPABILITIES)


def test_every_job_gets_one_result_with_its_id(executor, tmp_path):
    many = [EvalJob(f"j{k}", stage, parse(text, SPACE).to_prefix(), k)
            for k, (text, stage) in enumerate([("i", "verify"), ("u", "proxy"), ("e", "verify"), ("i + u", "proxy"),
                                                ("u - i", "verify"), ("i * e", "proxy")])]  # fmt: skip
    with create_executor(executor, FAULTY, time_limit=60.0, workers=2, log_path=str(tmp_path / "worker.log"),
                         **contract_options(executor)) as ex:  # fmt: skip
        results = list(ex.run(many))
        again = list(ex.run(many[:2]))  # an executor runs more than one batch
    assert sorted(r.job_id for r in results) == sorted(j.job_id for j in many)
    assert sorted(r.job_id for r in again) == ["j0", "j1"]
    for r in results + again:
        job = next(j for j in many if j.job_id == r.job_id)
        assert r.ok and r.metric == pytest.approx(score(parse(job.formula, SPACE))) and r.seconds >= 0, r


def test_failed_candidates_are_results_with_a_reason_and_the_run_goes_on(executor, tmp_path):
    results = run_jobs(executor, jobs("ok1", "raise", "nan", "refused", "ok2"), tmp_path)
    assert_scored(results, "ok1", "ok2")
    assert_failed(results, "raise", "RuntimeError", "boom")
    assert_failed(results, "nan", "nan")
    assert_failed(results, "refused", "refused")


def test_an_adapter_that_cannot_be_built_is_a_config_error(executor, tmp_path):
    spec = AdapterSpec("toy", SPACE, {"no_such_option": 1}, ())
    with pytest.raises(ConfigError, match="no_such_option"):  # when the executor is made or when it runs
        with create_executor(executor, spec, time_limit=60.0, log_path=str(tmp_path / "worker.log"),
                             **contract_options(executor)) as ex:  # fmt: skip
            list(ex.run(jobs("ok1")))


# ---- what an executor claims ------------------------------------------------------------------------------------


def test_a_hanging_job_is_stopped_at_the_time_limit(executor, tmp_path):
    requires(executor, "time_limit")
    results = run_jobs(executor, jobs("hang", "ok1"), tmp_path, time_limit=4.0)
    assert_failed(results, "hang", "time limit")
    assert results["hang"].seconds < 60
    assert_scored(results, "ok1")


def test_a_job_past_the_memory_limit_is_stopped(executor, tmp_path):
    requires(executor, "memory_limit")
    results = run_jobs(executor, jobs("hog", "ok1"), tmp_path, memory_limit_mb=600)
    assert_failed(results, "hog", "memory limit")
    assert_scored(results, "ok1")


def test_a_dying_worker_is_reported_and_later_jobs_still_run(executor, tmp_path):
    requires(executor, "worker_death")
    results = run_jobs(executor, jobs("die", "ok1", "ok2"), tmp_path, workers=1)
    assert_failed(results, "die")
    assert_scored(results, "ok1", "ok2")
