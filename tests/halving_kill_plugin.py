"""A test plugin: the real ``toy`` adapter, which kills the search driver in the middle of a rung, once.

Adapter ``toy_killer`` scores exactly as ``toy`` does. While its ``marker`` file does not exist, the ``after``-th
job at fidelity ``kill_at`` (default: the second ``proxy@1/3`` training of the worker) creates the marker and
kills the driver with SIGKILL -- a crash with part of a rung stored -- then waits for its own end (the worker
exits with its driver). With the marker there it never kills, so a resumed run, and a run started later with the
same options, go to their end. Imported by the search (``--plugin tests.halving_kill_plugin``) and its workers.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from gp_autoloss.fidelity import budget_fidelity
from gp_autoloss.fitness.base import register_adapter
from gp_autoloss.fitness.toy import ToyAdapter, ToyOptions
from gp_autoloss.loss import Loss
from gp_autoloss.options import option


@dataclass(frozen=True)
class KillerOptions(ToyOptions):
    """The toy adapter's options and when to kill."""

    marker: str = option("", "a file: absent, the driver is killed once (and the file created); present, never")
    kill_at: str = option("proxy@1/3", "the fidelity of the job that kills")
    after: int = option(2, "kill at this job of that fidelity (counted in each worker)", ge=1)


@register_adapter("toy_killer")
class KillerToyAdapter(ToyAdapter):
    """``toy`` that kills its driver once, in the middle of a rung."""

    options_class = KillerOptions
    opts: KillerOptions

    def __init__(self, space: str, **options: object) -> None:
        super().__init__(space, **options)
        self._seen = 0

    def proxy_budget(self, loss: Loss, seed: int, budget: Fraction, state: str | None) -> float:
        """The toy metric, unless this is the job that kills the driver."""
        if budget_fidelity(budget) == self.opts.kill_at and self.opts.marker:
            self._seen += 1
            marker = Path(self.opts.marker)
            if self._seen == self.opts.after and not marker.exists():
                marker.write_text(f"killed the driver at the {self._seen}th {self.opts.kill_at} job\n")
                os.kill(os.getppid(), signal.SIGKILL)
                time.sleep(60)  # the worker's watch thread ends it once the driver is gone
        return super().proxy_budget(loss, seed, budget, state)
