"""One writer per run: an OS lock (``flock``) on ``RUN/run.lock`` held while a search writes the run.

The kernel releases the lock when its holder ends, however it ends (``kill -9`` included), so a stale lock
never blocks a later ``--resume``. The holder writes its PID into the file for the message the next writer
gets. Readers (``report``, ``export``) never take the lock: they read the run file read-only.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from gp_autoloss.errors import ConfigError

__all__ = ["LOCK_FILE", "RunBusyError", "RunLock"]

LOCK_FILE = "run.lock"
_PID_WAIT_SECONDS = 1.0


class RunBusyError(ConfigError):
    """Another process is writing the run."""


class RunLock:
    """The exclusive writer lock of one run directory (which must exist); release with :meth:`release`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot lock {run_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunBusyError(f"{run_dir} is being written by {who}") from None
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot lock {run_dir}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: removing it would race with the next writer."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    """The PID the holder wrote (it may still be writing it: wait a moment)."""
    deadline = time.monotonic() + _PID_WAIT_SECONDS
    while True:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
