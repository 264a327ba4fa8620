"""Where ``report`` writes its files: next to the run, unless the run directory is read-only.

Reading a run needs no write access. When the run directory cannot be written (someone else's run, a read-only
mount, an archive), the report's default files go to a per-run cache directory, and the command says where.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["can_write", "cache_dir", "report_dir"]


def can_write(directory: str | Path) -> bool:
    """Whether a file can be created in ``directory`` (tried, not guessed: ``os.access`` is wrong for root and
    for read-only mounts)."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".gp-autoloss-write-test-"):
            return True
    except OSError:
        return False


def cache_dir(run_dir: str | Path) -> Path:
    """``$XDG_CACHE_HOME/gp-autoloss/reports/<run name>-<hash of its path>`` (``~/.cache`` by default, the
    system's temporary directory if there is no home)."""
    resolved = Path(run_dir).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    base = os.environ.get("XDG_CACHE_HOME") or (str(Path.home() / ".cache") if Path.home().is_dir() else "")
    root = Path(base) if base else Path(tempfile.gettempdir())
    return root / "gp-autoloss" / "reports" / f"{resolved.name or 'run'}-{digest}"


def report_dir(run_dir: str | Path, output_dir: str | Path | None = None) -> tuple[Path, str | None]:
    """The directory for a report's default files and a note to print when it is not the run directory.

    ``output_dir`` (``--output-dir``) wins; otherwise the run directory if it is writable, else
    :func:`cache_dir` (created).
    """
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        return out, None
    run_dir = Path(run_dir)
    if can_write(run_dir):
        return run_dir, None
    out = cache_dir(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out, f"{run_dir} is read-only; report files go to {out} (choose with --output-dir)"
