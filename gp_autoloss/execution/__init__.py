"""Executors: where expensive candidate evaluations (D_verify, proxy) run."""

from gp_autoloss.execution.base import EXECUTORS, EvalJob, EvalResult, Executor, create_executor
from gp_autoloss.execution.local import LocalExecutor

__all__ = ["EXECUTORS", "EvalJob", "EvalResult", "Executor", "LocalExecutor", "create_executor"]
