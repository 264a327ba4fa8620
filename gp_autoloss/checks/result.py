"""Results of the cheap checks: one :class:`CheckResult` per check, a :class:`Verdict` per candidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "Verdict"]


@dataclass
class CheckResult:
    """The outcome of one check on one loss.

    Attributes:
        name: the check (``"validness"``, ``"convergence"``).
        passed: whether the loss has the property.
        reason: why it failed, in one line (empty when it passed, or a note such as
            ``"not checked: no convergence check registered for space 'seg'"``).
        details: JSON-able facts behind the outcome (the failing probe, its inputs, the offending value).
    """

    name: str
    passed: bool
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"name": self.name, "passed": self.passed, "reason": self.reason, "details": self.details}


@dataclass
class Verdict:
    """What the cheap checks say about a candidate loss.

    Attributes:
        passed: the loss passed every check that ran.
        validness: the computational validness check (always runs).
        convergence: the convergence property verification, or ``None`` when validness failed.
    """

    passed: bool
    validness: CheckResult
    convergence: CheckResult | None = None

    @property
    def results(self) -> list[CheckResult]:
        """The checks that ran, in order."""
        return [r for r in (self.validness, self.convergence) if r is not None]

    @property
    def reason(self) -> str:
        """The first failing check's reason, or ``""`` when the loss passed (see :attr:`failed_check`)."""
        for result in self.results:
            if not result.passed:
                return result.reason
        return ""

    @property
    def failed_check(self) -> str | None:
        """Name of the first failing check, or ``None``."""
        return next((r.name for r in self.results if not r.passed), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "passed": self.passed,
            "reason": self.reason,
            "failed_check": self.failed_check,
            "validness": self.validness.to_dict(),
            "convergence": None if self.convergence is None else self.convergence.to_dict(),
        }
