"""Versions and machine of the processes that ran a search, kept next to the run in ``RUN/environment.json``.

The search records one session per process that works on a run (a resumed run on another machine adds a
second one); the report shows them. The run file itself is never touched here.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["environment_info", "record_session", "load_sessions", "ENVIRONMENT_FILE"]

ENVIRONMENT_FILE = "environment.json"
#: distributions whose versions a session records (missing ones are left out)
PACKAGES = ("gp-autoloss", "torch", "deap", "numpy", "networkx", "mmdet", "mmcv", "mmengine", "ray")
_RECORDED: set[str] = set()


def environment_info() -> dict[str, Any]:
    """This process's versions and machine: package versions, Python, OS, host name, CPUs, accelerator."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "gp-autoloss" not in versions:
        from gp_autoloss import __version__

        versions["gp-autoloss"] = __version__
    info: dict[str, Any] = {
        "started": time.time(), "pid": os.getpid(), "host": socket.gethostname(),
        "python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "versions": versions,
    }  # fmt: skip
    torch = sys.modules.get("torch")  # only if the process already uses it: never import torch for this
    if torch is not None:
        try:
            info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        except Exception:  # noqa: BLE001 - a broken driver must not break a report
            info["cuda"] = None
    return info


def load_sessions(run_dir: str | Path) -> list[dict[str, Any]]:
    """The recorded sessions of a run (empty if none were recorded or the file is unreadable)."""
    try:
        data = json.loads((Path(run_dir) / ENVIRONMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [s for s in data.get("sessions", []) if isinstance(s, dict)] if isinstance(data, dict) else []


def record_session(run_dir: str | Path) -> None:
    """Add this process to ``RUN/environment.json`` once per process and run (written atomically)."""
    run_dir = Path(run_dir)
    key = str(run_dir.resolve())
    if key in _RECORDED:
        return
    sessions = load_sessions(run_dir) + [environment_info()]
    tmp = run_dir / f".{ENVIRONMENT_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps({"sessions": sessions}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, run_dir / ENVIRONMENT_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    _RECORDED.add(key)
