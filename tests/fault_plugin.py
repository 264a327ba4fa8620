"""A test plugin: an adapter whose candidates raise, return NaN, hang or kill their worker on purpose.

Imported by the search (``plugins=["tests.fault_plugin"]``) in the driver and in every worker. The
metric of a well-behaved candidate is a deterministic function of its formula text.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time

from gp_autoloss.fitness.base import CandidateFailed, FitnessAdapter, register_adapter
from gp_autoloss.loss import Loss


def behaviour(loss: Loss) -> str:
    """What the faulty adapter does with ``loss``, decided by the primitives it contains."""
    text = loss.to_prefix()
    for marker, action in (("sin(", "raise"), ("cos(", "nan"), ("exp(", "hang"), ("abs(", "die"), ("sqrt(", "hog")):
        if marker in text:
            return action
    return "ok"


def score(loss: Loss) -> float:
    """A deterministic metric in [0, 1) from the formula text."""
    return int(hashlib.sha1(loss.key.encode()).hexdigest()[:8], 16) / 2**32


@register_adapter("faulty")
class FaultyAdapter(FitnessAdapter):
    """Scores by formula hash; misbehaves on purpose for sin/cos/exp/abs/sqrt.

    Option ``sleep``: seconds every evaluation takes first (to kill a worker in the middle of one). Option
    ``refuse``: a candidate whose prefix text contains it raises :class:`CandidateFailed` (the adapter's way
    of saying "diverged"; none by default). Option ``config`` is unused but declared a code option, as a
    config file that runs Python would be.
    """

    code_options = ("config",)
    accepted_options = ("sleep", "refuse", "config")

    def _run(self, loss: Loss) -> float:
        time.sleep(float(self.options.get("sleep", 0.0)))
        refuse = self.options.get("refuse")
        if refuse and refuse in loss.to_prefix():
            raise CandidateFailed(f"refused: the candidate contains {refuse!r}")
        action = behaviour(loss)
        if action == "raise":
            raise RuntimeError("boom")
        if action == "nan":
            return float("nan")
        if action == "hang":
            time.sleep(3600)
        if action == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "hog":
            hog = bytearray(1 << 30)  # 1 GiB, touched page by page so it is resident
            for k in range(0, len(hog), 4096):
                hog[k] = 1
            time.sleep(3600)
        return score(loss)

    def verify(self, loss: Loss, seed: int) -> float:
        return self._run(loss)

    def proxy(self, loss: Loss, seed: int) -> float:
        return self._run(loss)
