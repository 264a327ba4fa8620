"""How an evaluation's training process starts: a fresh interpreter, or a fork of a server that has mmdet loaded.

A fresh ``python -m detectors_adapter.train_one`` pays the imports of torch, mmengine and mmdet (about 4-5 s of
a tiny detector's 6-8 s start-up on a 2-core CPU) for every evaluation, every successive-halving rung and every
D_verify training. :func:`fork_server_run` starts the same ``train_one`` in a child of Python's
``multiprocessing`` fork server, which imported those modules once (``set_forkserver_preload``): the child is a
separate process as before (its own session and process group, stdout and stderr into the log, killed with
its group at the time limit, dead with its parent), only its imports are already done.

Both return the process's exit code (negative: killed by that signal) or raise :class:`TrainingTimeout`.
The fork server is used on CPU only (a process that forks must not have touched CUDA).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PRELOAD", "TrainingTimeout", "fork_server_run", "subprocess_run"]

#: modules the fork server imports once
PRELOAD = ["torch", "mmengine.runner", "mmdet.models", "mmdet.datasets", "mmdet.evaluation",
           "detectors_adapter.models", "detectors_adapter.build_config", "detectors_adapter.train_one"]  # fmt: skip

_LOCK = threading.RLock()
_CONTEXT: multiprocessing.context.BaseContext | None = None


class TrainingTimeout(Exception):
    """The training process ran past its time limit and was killed with its process group."""


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def subprocess_run(spec_path: Path, log_path: Path, cwd: Path, env: dict[str, str], time_limit: float) -> int:
    """Run ``python -m detectors_adapter.train_one SPEC`` in a new interpreter and session; its exit code."""
    cmd = [sys.executable, "-m", "detectors_adapter.train_one", str(spec_path)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True)  # fmt: skip
        try:
            return proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            raise TrainingTimeout(f"time limit of {time_limit:g} s exceeded") from None
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise


def _context() -> multiprocessing.context.BaseContext:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _CONTEXT = context
        return _CONTEXT


@contextmanager
def _without_main_module() -> Iterator[None]:
    """While a training starts, ``sys.modules["__main__"]`` is an empty module.

    ``multiprocessing`` prepares a fork-server child the way it prepares a spawned one: it imports the driver's
    main script again, in the server and in every child. A user's script without an
    ``if __name__ == "__main__":`` guard (``adapter = create_adapter(...); adapter.proxy(...)``) would then run
    again in there. With no main file or name to prepare, nothing is imported: the child needs only
    ``detectors_adapter``."""
    with _LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


def _train_in_child(spec_path: str, log_path: str, cwd: str, env: dict[str, str]) -> None:
    """The fork server's child: become what :func:`subprocess_run` starts, then run ``train_one``."""
    from multiprocessing import forkserver

    # multiprocessing hands every child the driver's end of the pipe that keeps the server alive; held here, the
    # server would outlive a killed driver, and this child (dead with its parent, the server) with it
    alive = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        forkserver._forkserver._forkserver_alive_fd = None
    os.setsid()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.environ.clear()
    os.environ.update(env)
    os.environ["GP_AUTOLOSS_PARENT_PID"] = str(os.getppid())  # the fork server: dies with the driver
    os.chdir(cwd)
    from detectors_adapter.train_one import main

    code = main([spec_path])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def fork_server_run(spec_path: Path, log_path: Path, cwd: Path, env: dict[str, str], time_limit: float) -> int:
    """Run ``train_one`` on ``spec_path`` in a child of the fork server (module doc); its exit code."""
    proc = _context().Process(target=_train_in_child, args=(str(spec_path), str(log_path), str(cwd), env),
                              daemon=False)  # fmt: skip
    with _without_main_module():
        proc.start()
    try:
        proc.join(time_limit)
    except BaseException:
        _kill_group(proc.pid)
        proc.join()
        raise
    if proc.exitcode is None:
        _kill_group(proc.pid)
        proc.join()
        raise TrainingTimeout(f"time limit of {time_limit:g} s exceeded")
    return int(proc.exitcode)
