"""The default executor: persistent worker processes on this machine.

Each worker builds the adapter once and evaluates jobs one at a time. A job that exceeds the time
limit or the memory limit, or whose worker dies (segfault, OOM kill), becomes a failed result and the
worker is replaced; the search goes on.

A worker imports what the driver imports, from where the driver found it: it starts isolated (``python -I``:
no working directory, no ``PYTHONPATH`` on its path), takes the driver's ``sys.path`` as its own, imports the
driver's plugins and checks that each comes from the driver's file. A ``./torch.py`` in the working directory
therefore runs in no worker unless the driver itself imports from there.
"""

from __future__ import annotations

import collections
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gp_autoloss.errors import ConfigError
from gp_autoloss.execution.base import EXECUTORS, AdapterSpec, EvalJob, EvalResult, Executor
from gp_autoloss.options import Options

__all__ = ["LocalExecutor", "LocalOptions", "driver_sys_path", "worker_command"]

_POLL_SECONDS = 0.1
_START_TIMEOUT = 600.0
#: run by ``python -I -c``: take the driver's import path before importing anything that could be shadowed
_BOOTSTRAP = ("import json, sys; sys.path[:] = json.loads(sys.argv[2])['sys_path']; "
              "from gp_autoloss.execution.worker import main; sys.exit(main(sys.argv[1:]))")


def driver_sys_path() -> list[str]:
    """This process's ``sys.path`` with every entry absolute (``''`` is the working directory it stands for)."""
    return list(dict.fromkeys(os.path.abspath(p or os.curdir) for p in sys.path))


def worker_command(result_fd: int, spec: AdapterSpec) -> list[str]:
    """The command line of a worker process for ``spec`` (see the module docstring)."""
    files = {name: getattr(sys.modules.get(name), "__file__", None) for name in spec.plugins}
    payload = json.dumps({"name": spec.name, "space": spec.space, "options": spec.options,
                          "plugins": list(spec.plugins), "plugin_files": files, "sys_path": driver_sys_path()})
    return [sys.executable, "-I", "-c", _BOOTSTRAP, str(result_fd), payload]


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class _Worker:
    """One worker process and its result pipe."""

    def __init__(self, spec: AdapterSpec, log_path: str | None) -> None:
        read_fd, write_fd = os.pipe()
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            worker_command(write_fd, spec),
            stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=(write_fd,), start_new_session=True, env=env,
        )  # fmt: skip
        if log is not subprocess.DEVNULL:
            log.close()
        os.close(write_fd)
        self.fd = read_fd
        self.buffer = b""
        self.job: EvalJob | None = None
        self.started_job = 0.0
        self.ready = False
        self.created = time.monotonic()

    def send(self, job: EvalJob) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(job.to_dict()) + "\n").encode())
        self.proc.stdin.flush()
        self.job = job
        self.started_job = time.monotonic()

    def read_lines(self) -> list[dict[str, Any]] | None:
        """New complete messages; ``None`` at end of file (the worker is gone)."""
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.close_fd()

    def stop(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            pass
        if self.proc.poll() is None:
            self.kill()
        self.close_fd()

    def close_fd(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def exit_reason(self) -> str:
        code = self.proc.wait()
        if code < 0:
            try:
                return f"worker killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"worker killed by signal {-code}"
        return f"worker exited with code {code}"


@dataclass(frozen=True)
class LocalOptions(Options):
    """The ``local`` executor takes no options of its own: the search's ``workers``, ``time_limit`` and
    ``memory_limit_mb`` are all it needs."""


class LocalExecutor(Executor):
    """Evaluates jobs in ``workers`` persistent local processes (default 1); kills a job's worker after the
    search's ``time_limit`` or past ``memory_limit_mb`` and records the job as failed."""

    name = "local"
    options_class = LocalOptions
    capabilities = frozenset({"time_limit", "memory_limit", "worker_death"})

    def __init__(self, adapter: AdapterSpec, **kwargs: Any) -> None:
        super().__init__(adapter, **kwargs)
        self._pool: list[_Worker] = []

    def _spawn(self) -> _Worker:
        return _Worker(self.adapter, self.log_path)

    def _replace(self, worker: _Worker) -> _Worker:
        self._pool.remove(worker)
        fresh = self._spawn()
        self._pool.append(fresh)
        return fresh

    def run(self, jobs: Sequence[EvalJob]) -> Iterator[EvalResult]:  # noqa: C901 - one event loop
        queue = collections.deque(jobs)
        while len(self._pool) < min(self.workers, max(1, len(queue))):
            self._pool.append(self._spawn())
        pending = len(queue)
        while pending:
            for w in list(self._pool):
                if w.ready and w.job is None and queue:
                    job = queue.popleft()
                    try:
                        w.send(job)
                    except OSError:  # the worker died between jobs: put the job back, replace it
                        queue.appendleft(job)
                        w.job = None
                        w.kill()
                        self._replace(w)
            fds = {w.fd: w for w in self._pool if w.fd >= 0}
            readable, _, _ = select.select(list(fds), [], [], _POLL_SECONDS)
            now = time.monotonic()
            for fd in readable:
                w = fds[fd]
                messages = w.read_lines()
                if messages is None:  # worker gone
                    job, reason = w.job, w.exit_reason()
                    w.close_fd()
                    self._replace(w)
                    if job is None:
                        if not w.ready:
                            raise ConfigError(f"evaluation worker failed to start ({reason}); see {self.log_path}")
                        continue
                    pending -= 1
                    yield EvalResult(job.job_id, False, None, reason, now - w.started_job)
                    continue
                for msg in messages:
                    if "fatal" in msg:
                        w.kill()
                        raise ConfigError(msg["fatal"])
                    if msg.get("ready"):
                        w.ready = True
                        continue
                    w.job = None
                    pending -= 1
                    yield EvalResult(msg["job_id"], bool(msg["ok"]), msg.get("metric"), msg.get("reason", ""),
                                     float(msg.get("seconds", 0.0)))  # fmt: skip
            for w in list(self._pool):
                if not w.ready and w.fd >= 0 and now - w.created > _START_TIMEOUT:
                    w.kill()
                    raise ConfigError(f"evaluation worker did not start within {_START_TIMEOUT:.0f}s")
                if w.job is None:
                    continue
                over_time = now - w.started_job > self.time_limit
                over_mem = self.memory_limit_mb > 0 and _rss_mb(w.proc.pid) > self.memory_limit_mb
                if over_time or over_mem:
                    job = w.job
                    w.kill()
                    self._replace(w)
                    pending -= 1
                    reason = (f"exceeded time limit of {self.time_limit:g}s" if over_time
                              else f"exceeded memory limit of {self.memory_limit_mb} MB")  # fmt: skip
                    yield EvalResult(job.job_id, False, None, reason, now - w.started_job)

    def close(self) -> None:
        for w in self._pool:
            w.stop()
        self._pool.clear()


EXECUTORS.add("local", LocalExecutor)
