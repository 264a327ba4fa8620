"""A worker process: builds the adapter once, then evaluates jobs read as JSON lines on stdin.

Results are written as JSON lines to the file descriptor given on the command line, so whatever the
adapter prints (training logs) cannot corrupt the protocol. Started by :class:`LocalExecutor` with
:func:`gp_autoloss.execution.local.worker_command` (``python -I -c BOOTSTRAP RESULT_FD SPEC_JSON``): the spec
carries the driver's ``sys.path``, its plugins and the file each plugin was imported from.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import time
import traceback
from typing import Any

__all__ = ["evaluate_job", "main"]


def evaluate_job(adapter: Any, space: str, job: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one job with a built adapter; never raises."""
    from gp_autoloss.errors import GpAutolossError
    from gp_autoloss.fitness.budget import score
    from gp_autoloss.loss import parse

    start = time.perf_counter()
    try:
        loss = parse(job["formula"], space)
        metric = float(score(adapter, job["stage"], loss, int(job["seed"]), job.get("state")))
        if not math.isfinite(metric):
            return _result(job, False, None, f"metric is {metric}", start)
        return _result(job, True, metric, "", start)
    except GpAutolossError as exc:
        return _result(job, False, None, str(exc), start)
    except MemoryError:
        return _result(job, False, None, "out of memory", start)
    except Exception as exc:  # noqa: BLE001 - a candidate that raises is a failed candidate
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
        return _result(job, False, None, f"{type(exc).__name__}: {exc}{where}"[:500], start)


def _result(job: dict[str, Any], ok: bool, metric: float | None, reason: str, start: float) -> dict[str, Any]:
    return {"job_id": job["job_id"], "ok": ok, "metric": metric, "reason": reason,
            "seconds": time.perf_counter() - start}  # fmt: skip


def _exit_with_parent() -> None:
    """End this worker (and, via its process group, its children) when the driver is gone."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def import_plugins(plugins: list[str], files: dict[str, str | None]) -> None:
    """Import the driver's plugins; raises ``ImportError`` when one comes from another file than the driver's."""
    for plugin in plugins:
        module = importlib.import_module(plugin)
        want, got = files.get(plugin), getattr(module, "__file__", None)
        if want and got and os.path.realpath(want) != os.path.realpath(got):
            raise ImportError(f"plugin {plugin!r} resolves to {got} in the worker but to {want} in the driver")


def main(argv: list[str] | None = None) -> int:
    """Worker loop."""
    args = sys.argv[1:] if argv is None else argv
    _exit_with_parent()
    result_fd = int(args[0])
    spec = json.loads(args[1])
    out = os.fdopen(result_fd, "w", buffering=1)
    try:
        import_plugins(spec.get("plugins", []), spec.get("plugin_files", {}))
        from gp_autoloss.fitness import create_adapter

        adapter = create_adapter(spec["name"], spec["space"], **spec.get("options", {}))
    except Exception as exc:  # noqa: BLE001
        out.write(json.dumps({"fatal": f"cannot build adapter {spec['name']!r}: {exc}"}) + "\n")
        return 2
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        out.write(json.dumps(evaluate_job(adapter, spec["space"], job)) + "\n")
    adapter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
