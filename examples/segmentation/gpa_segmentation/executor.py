"""The ``inline`` executor: evaluates every job in the driver process, one after the other.

A minimal :class:`~gp_autoloss.execution.Executor`: no worker start-up (handy for a tiny model and for
debugging an adapter with a debugger), but also no isolation and no time or memory limit: it does not enforce
the search's ``--time-limit`` (a candidate that hangs hangs the search). The core's ``local`` executor is the one
to use otherwise.

Its one option, declared in :class:`InlineOptions`: ``fail_fast`` (``--executor-option fail_fast=true``) lets a
candidate's exception end the search with its traceback instead of failing that candidate -- to debug an adapter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gp_autoloss.execution import EXECUTORS, EvalJob, EvalResult, Executor
from gp_autoloss.fitness import create_adapter, score
from gp_autoloss.loss import parse
from gp_autoloss.options import Options, option

__all__ = ["InlineExecutor", "InlineOptions"]


@dataclass(frozen=True)
class InlineOptions(Options):
    """The ``inline`` executor's options (``--executor-option NAME=VALUE``)."""

    fail_fast: bool = option(False, "a candidate's exception ends the search with its traceback (to debug an adapter)")


class InlineExecutor(Executor):
    """Runs each :class:`EvalJob` here and now; a candidate that raises is a failed result, never a crash."""

    name = "inline"
    options_class = InlineOptions
    # in-process: no time or memory limit, and a candidate that kills the process ends the search
    capabilities: frozenset[str] = frozenset()
    opts: InlineOptions

    def __init__(self, adapter: Any, **kwargs: Any) -> None:
        super().__init__(adapter, **kwargs)
        self._adapter = create_adapter(adapter.name, adapter.space, **adapter.options)

    def run(self, jobs: Sequence[EvalJob]) -> Iterator[EvalResult]:
        for job in jobs:
            start = time.perf_counter()
            try:
                loss = parse(job.formula, self.adapter.space)
                metric = float(score(self._adapter, job.stage, loss, job.seed, job.state))
                ok = math.isfinite(metric)
                reason = "" if ok else f"metric is {metric}"
            except Exception as exc:  # noqa: BLE001 - a candidate that raises is a failed candidate
                if self.opts.fail_fast:
                    raise
                metric, ok, reason = None, False, f"{type(exc).__name__}: {exc}"[:500]
            yield EvalResult(job.job_id, ok, metric if ok else None, reason, time.perf_counter() - start)

    def close(self) -> None:
        self._adapter.close()


EXECUTORS.add("inline", InlineExecutor)
