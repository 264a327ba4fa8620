"""The ``ray`` executor: candidate evaluations as Ray tasks, on a local Ray instance or a cluster.

Every job is one Ray task with ``num_cpus`` / ``num_gpus`` per task; it receives the candidate as formula
text, builds the fitness adapter once per Ray worker process (cached by the adapter's spec) and returns what
:func:`gp_autoloss.execution.worker.evaluate_job` returns. Tasks never touch the run file: the driver, the
search engine, writes every result. How many evaluations run at once is decided by Ray from the cluster's
resources and the per-task ``num_cpus`` / ``num_gpus`` (the ``workers`` setting is for the local executor).

Faults:

* an evaluation still running ``time_limit`` seconds after its worker started it is cancelled with
  ``ray.cancel(force=True)`` (which ends the worker process) and recorded as failed;
* a worker that dies during an evaluation (killed, segfault, out-of-memory kill, lost node) is retried on a
  fresh worker up to ``max_retries`` times; then the job is recorded as failed with the reason;
* ``memory_limit_mb``: a watchdog thread in the worker ends it once its resident memory passes the limit;
  the job is recorded as failed, not retried.

The driver learns when a worker starts a job (for the time limit) and why a worker ended itself (memory)
from a small tracker actor on the driver's node; :attr:`RayExecutor.starts` keeps those start events.

Options (``SearchConfig.executor_options``, CLI ``--ray-*``): declared once in
:class:`~gp_autoloss.execution.ray_options.RayOptions` (``address``, ``num_cpus``, ``num_gpus``, ``max_retries``,
``reuse_workers``, ``runtime_env``; ``gp-autoloss search --executor ray --help`` lists them). ``runtime_env`` is
merged with a ``PYTHONPATH`` holding the driver's import path, so workers import ``gp_autoloss`` and the plugins
from where the driver found them; never the working directory unless the driver imports from it.
``address`` and ``runtime_env`` are code options: a resumed run takes them from the command line, never from
its run file.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import exceptions as ray_errors
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from gp_autoloss.errors import ConfigError
from gp_autoloss.execution.base import EXECUTORS, AdapterSpec, EvalJob, EvalResult, Executor
from gp_autoloss.execution.local import _rss_mb
from gp_autoloss.execution.ray_options import RayOptions
from gp_autoloss.execution.worker import evaluate_job

__all__ = ["RayExecutor", "StartEvent"]

log = logging.getLogger("gp_autoloss.execution.ray")

_POLL_SECONDS = 0.1
_TRACKER_TIMEOUT = 60.0
_MEMORY_POLL_SECONDS = 0.2


# ---- worker side ------------------------------------------------------------------------------------------
#: adapters built in this worker process, by their spec (a worker serves many jobs of one search)
_ADAPTERS: dict[str, Any] = {}


def _adapter(spec: dict[str, Any]) -> Any:
    key = json.dumps(spec, sort_keys=True, default=str)
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        for plugin in spec["plugins"]:
            importlib.import_module(plugin)
        from gp_autoloss.fitness import create_adapter

        adapter = _ADAPTERS[key] = create_adapter(spec["name"], spec["space"], **spec["options"])
    return adapter


def _watch_memory(limit_mb: int, done: threading.Event, tracker: Any, job_id: str, attempt: int) -> None:
    """End this worker once its resident memory passes ``limit_mb`` (the tracker learns why first)."""
    while not done.wait(_MEMORY_POLL_SECONDS):
        rss = _rss_mb(os.getpid())
        if rss > limit_mb:
            try:
                ray.get(tracker.memory_exceeded.remote(job_id, attempt, rss), timeout=10)
            finally:
                os._exit(137)


def _evaluate(spec: dict[str, Any], job: dict[str, Any], attempt: int, tracker: Any,
              memory_limit_mb: int) -> dict[str, Any]:  # fmt: skip
    """The task body: build (or reuse) the adapter, report the start, evaluate; never raises."""
    try:
        adapter = _adapter(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the driver, which stops with a ConfigError
        return {"fatal": f"cannot build adapter {spec['name']!r} on a Ray worker: {exc}"}
    # waited for: a start report sent fire-and-forget is lost when the worker dies right after it
    ray.get(tracker.started.remote(job["job_id"], attempt, os.getpid(), ray.get_runtime_context().get_node_id()),
            timeout=_TRACKER_TIMEOUT)  # fmt: skip
    done = threading.Event()
    if memory_limit_mb > 0:
        threading.Thread(target=_watch_memory, args=(memory_limit_mb, done, tracker, job["job_id"], attempt),
                         daemon=True).start()  # fmt: skip
    try:
        return evaluate_job(adapter, spec["space"], job)
    finally:
        done.set()


def _evaluate_reused(*args: Any) -> dict[str, Any]:
    return _evaluate(*args)


def _evaluate_fresh(*args: Any) -> dict[str, Any]:
    return _evaluate(*args)


# Ray retries nothing by itself: the driver counts attempts. ``max_calls=1``: a new worker for every job.
_TASKS = {True: ray.remote(max_retries=0)(_evaluate_reused),
          False: ray.remote(max_retries=0, max_calls=1)(_evaluate_fresh)}  # fmt: skip


@ray.remote(num_cpus=0)
class _Tracker:
    """Collects what workers report: job starts and memory-limit exits."""

    def __init__(self) -> None:
        self._events: list[tuple[Any, ...]] = []

    def started(self, job_id: str, attempt: int, pid: int, node_id: str) -> None:
        self._events.append(("start", job_id, attempt, pid, node_id))

    def memory_exceeded(self, job_id: str, attempt: int, rss_mb: float) -> bool:
        self._events.append(("memory", job_id, attempt, rss_mb))
        return True

    def take(self) -> list[tuple[Any, ...]]:
        events, self._events = self._events, []
        return events


# ---- driver side ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartEvent:
    """A worker started evaluating a job: ``attempt`` 0 is the first try, 1 the first retry, ..."""

    job_id: str
    attempt: int
    pid: int
    node_id: str


@dataclass
class _Attempt:
    job: EvalJob
    number: int
    started: float | None = None


class RayExecutor(Executor):
    """Evaluates jobs as Ray tasks; see the module docstring for options and fault handling."""

    name = "ray"
    options_class = RayOptions
    capabilities = frozenset({"time_limit", "memory_limit", "worker_death"})
    opts: RayOptions

    def __init__(self, adapter: AdapterSpec, **kwargs: Any) -> None:
        super().__init__(adapter, **kwargs)
        self.reuse_workers = (self.opts.num_gpus == 0) if self.opts.reuse_workers is None else self.opts.reuse_workers
        self.runtime_env = _runtime_env(self.opts.runtime_env)
        self._spec = {"name": adapter.name, "space": adapter.space, "options": dict(adapter.options),
                      "plugins": list(adapter.plugins)}  # fmt: skip
        #: every job start reported by a worker, in the order the driver learned of it
        self.starts: list[StartEvent] = []
        self._owns_ray = False
        self._tracker: Any = None
        self._live: dict[Any, _Attempt] = {}
        self._memory: dict[tuple[str, int], float] = {}

    # ---- connection -------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self._tracker is not None:
            return
        if ray.is_initialized():
            log.info("ray: using the Ray instance this process is already connected to")
        else:
            try:
                ray.init(address=self.opts.address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError, ...
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(f"cannot start or reach Ray at {self.opts.address!r}: {first}") from None
            self._owns_ray = True
        resources = ray.cluster_resources()
        log.info("ray: cluster with %g CPU(s), %g GPU(s); %g CPU(s) and %g GPU(s) per evaluation; worker output "
                 "in Ray's session logs", resources.get("CPU", 0), resources.get("GPU", 0), self.opts.num_cpus,
                 self.opts.num_gpus)  # fmt: skip
        if self._owns_ray and self.opts.address == "local":  # no autoscaler: a task that cannot fit would wait forever
            for key, need in (("CPU", self.opts.num_cpus), ("GPU", self.opts.num_gpus)):
                if need > resources.get(key, 0):
                    self.close()
                    raise ConfigError(f"ray executor: each evaluation asks for {need:g} {key}(s), but the local Ray "
                                      f"instance has {resources.get(key, 0):g}")  # fmt: skip
        node = ray.get_runtime_context().get_node_id()
        self._tracker = _Tracker.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True)).remote()

    # ---- the event loop ---------------------------------------------------------------------------------------
    def run(self, jobs: Sequence[EvalJob]) -> Iterator[EvalResult]:
        self._connect()
        for job in jobs:
            self._submit(job, 0)
        try:
            while self._live:
                refs = list(self._live)
                ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL_SECONDS)
                if ready:
                    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                now = time.monotonic()
                if ready or any(a.started is None for a in self._live.values()):
                    self._poll_tracker(now)
                for ref in ready:
                    result = self._collect(ref, self._live.pop(ref), now)
                    if result is not None:
                        yield result
                for ref, attempt in list(self._live.items()):
                    if attempt.started is not None and now - attempt.started > self.time_limit:
                        del self._live[ref]
                        ray.cancel(ref, force=True)
                        yield EvalResult(attempt.job.job_id, False, None,
                                         f"exceeded time limit of {self.time_limit:g}s", now - attempt.started)
        finally:
            self._cancel_all()

    def _submit(self, job: EvalJob, number: int) -> None:
        task = _TASKS[self.reuse_workers].options(num_cpus=self.opts.num_cpus, num_gpus=self.opts.num_gpus,
                                                  runtime_env=self.runtime_env, name=f"gp-autoloss {job.job_id}")
        ref = task.remote(self._spec, job.to_dict(), number, self._tracker, self.memory_limit_mb)
        self._live[ref] = _Attempt(job, number)

    def _poll_tracker(self, now: float) -> None:
        events = ray.get(self._tracker.take.remote(), timeout=_TRACKER_TIMEOUT)
        by_key = {(a.job.job_id, a.number): a for a in self._live.values()}
        for event in events:
            if event[0] == "start":
                _, job_id, number, pid, node_id = event
                self.starts.append(StartEvent(job_id, number, pid, node_id))
                attempt = by_key.get((job_id, number))
                if attempt is not None and attempt.started is None:
                    attempt.started = now
            elif event[0] == "memory":
                self._memory[(event[1], event[2])] = event[3]

    def _collect(self, ref: Any, attempt: _Attempt, now: float) -> EvalResult | None:
        """The result of a finished task; ``None`` when the job was resubmitted."""
        job_id = attempt.job.job_id
        seconds = now - attempt.started if attempt.started is not None else 0.0
        try:
            out = ray.get(ref)
        except ray_errors.RayTaskError as exc:  # the task itself raised: a bug, not a worker fault; not retried
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return EvalResult(job_id, False, None, f"Ray task raised {type(cause).__name__}: {cause}"[:500], seconds)
        except ray_errors.TaskCancelledError:
            return EvalResult(job_id, False, None, "cancelled", seconds)
        except ray_errors.RayError as exc:  # the worker or its node died, the object was lost, ...
            rss = self._memory.pop((job_id, attempt.number), None)
            if rss is not None:
                return EvalResult(job_id, False, None, f"exceeded memory limit of {self.memory_limit_mb} MB", seconds)
            what = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"[:300]
            if attempt.number < self.opts.max_retries:
                log.warning("ray: job %s lost its worker (%s); retry %d of %d", job_id, what, attempt.number + 1,
                            self.opts.max_retries)  # fmt: skip
                self._submit(attempt.job, attempt.number + 1)
                return None
            return EvalResult(job_id, False, None,
                              f"worker died in all {attempt.number + 1} attempt(s) ({what})", seconds)
        if "fatal" in out:
            self._cancel_all()
            raise ConfigError(out["fatal"])
        return EvalResult(out["job_id"], bool(out["ok"]), out.get("metric"), out.get("reason", ""),
                          float(out.get("seconds", 0.0)))  # fmt: skip

    def _cancel_all(self) -> None:
        for ref in self._live:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or Ray is going down
                pass
        self._live.clear()

    def close(self) -> None:
        """Cancel what still runs, remove the tracker, and shut Ray down if this executor started it."""
        self._cancel_all()
        if self._tracker is not None and ray.is_initialized():
            try:
                ray.kill(self._tracker)
            except Exception:  # noqa: BLE001
                pass
        self._tracker = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False


def _runtime_env(user: dict[str, Any] | None) -> dict[str, Any]:
    """The user's runtime_env plus a PYTHONPATH holding the driver's own import path (see
    :func:`gp_autoloss.execution.local.driver_sys_path`) minus the interpreter's directories."""
    from gp_autoloss.execution.local import driver_sys_path

    env = dict(user or {})
    env_vars = {str(k): str(v) for k, v in (env.get("env_vars") or {}).items()}
    if "PYTHONPATH" not in env_vars:
        prefixes = tuple(dict.fromkeys(str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)))
        roots = [p for p in driver_sys_path() if not p.startswith(prefixes)]
        env_vars["PYTHONPATH"] = os.pathsep.join([*roots, "${PYTHONPATH}"])
    env["env_vars"] = env_vars
    return env


EXECUTORS.add("ray", RayExecutor)
