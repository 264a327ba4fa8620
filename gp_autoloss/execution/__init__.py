"""Executors: where expensive candidate evaluations (D_verify, proxy) run.

``local`` (default): worker processes on this machine. ``ray``: Ray tasks on a local instance or a cluster
(needs ``pip install -e .[ray]``; imported only when used, so ``import gp_autoloss`` never imports ray).
"""

from typing import Any

from gp_autoloss.execution.base import EXECUTORS, EvalJob, EvalResult, Executor, check_executor, create_executor
from gp_autoloss.execution.local import LocalExecutor

# ``RayExecutor`` is reachable as an attribute (imported on first access) but kept out of ``__all__``.
__all__ = ["EXECUTORS", "EvalJob", "EvalResult", "Executor", "LocalExecutor", "check_executor", "create_executor"]


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # imports ray: only on demand
        from gp_autoloss.execution.ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
