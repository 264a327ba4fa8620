"""Typed records of a search: a stage's result, a candidate's state and a candidate inside a generation.

The run file stores them as plain columns (``results.ok``, ``results.metric``, ``candidates.status`` ...);
these types are what the engine, the stages and the storage pass between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the storage and the reports use these records without importing torch
    from gp_autoloss.loss import Loss

__all__ = ["Candidate", "CandidateState", "StageResult"]


class CandidateState(str, Enum):
    """Where a candidate stands; the value is the string stored in ``candidates.status``."""

    PENDING = "pending"  #: registered, no final outcome yet
    EVALUATED = "evaluated"  #: passed every stage and has a fitness metric
    FAILED = "failed"  #: an evaluation could not score it (exception, non-finite metric, time limit)
    REJECTED = "rejected"  #: a stage dropped it (a check failed, below the threshold, not in the top-K)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StageResult:
    """The outcome of one measurement of a candidate (stored as a row of ``results``).

    Attributes:
        ok: the candidate passed (a check) or was scored (an evaluation).
        metric: the score (higher is better), ``None`` when not ``ok`` for an evaluation.
        reason: why it failed (empty when ``ok``).
        seconds: time spent on it (0 for a result shared with an equivalent candidate).
        cached: the result was taken from an equivalent candidate, not computed for this one.
    """

    ok: bool
    metric: float | None
    reason: str = ""
    seconds: float = 0.0
    cached: bool = False

    def shared(self) -> StageResult:
        """This result as an equivalent candidate receives it: no time spent, marked cached."""
        return StageResult(self.ok, self.metric, self.reason, 0.0, cached=True)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "metric": self.metric, "reason": self.reason, "seconds": self.seconds,
                "cached": self.cached}  # fmt: skip


@dataclass
class Candidate:
    """A candidate inside one generation's pipeline: its stored id, loss, fingerprint and stage results."""

    id: int
    loss: Loss
    fingerprint: str
    results: dict[str, StageResult] = field(default_factory=dict)

    def metric(self, name: str) -> float | None:
        """The metric of result ``name`` if that result is ``ok``, else ``None``."""
        res = self.results.get(name)
        return res.metric if res is not None and res.ok else None
