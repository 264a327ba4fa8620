"""Counter building blocks: what a stage counts once it has run, and the same count read from the run file for
a generation in progress.

Funnel counts are distinct losses (fingerprints), like ``unique``: equivalent candidates share their results.
Evaluation counts (computed, cached, failed) are candidates.
"""

from __future__ import annotations

from typing import Any

from gp_autoloss.search.stages.base import Counter, LiveCount, StageOutcome

__all__ = ["distinct_kept", "distinct_passed", "evaluation_counters"]


def _distinct_passed(result: str):  # type: ignore[no-untyped-def]
    def count(o: StageOutcome) -> int:
        return len({c.fingerprint for c in o.entered if (r := c.results.get(result)) is not None and r.ok})

    return count


def _live_passed(result: str, rejected_as: str | None = None) -> LiveCount:
    def live(rows: list[dict[str, Any]]) -> int:
        return sum(1 for c in rows if c.get(f"{result}_ok") and (rejected_as is None or c["stage"] != rejected_as))

    return live


def distinct_passed(field: str, label: str, result: str) -> Counter:
    """Distinct losses that entered the stage and passed result ``result`` (the funnel count of a check)."""
    return Counter(field, label, _distinct_passed(result), live=_live_passed(result))


def distinct_kept(field: str, label: str, result: str | None = None, rejected_as: str | None = None) -> Counter:
    """Distinct losses the stage kept. Live: candidates with an ok ``result`` not rejected as ``rejected_as``."""
    live = _live_passed(result, rejected_as) if result is not None else None
    return Counter(field, label, lambda o: len({c.fingerprint for c in o.kept}), live=live)


def evaluation_counters(result: str, label: str, failed_field: str | None = None) -> tuple[Counter, ...]:
    """An evaluation stage's counts over the candidates that entered it: ``<result>_evaluated`` (computed, a
    funnel count), ``<result>_cached`` (taken from an equivalent loss) and ``failed_field`` (not scored;
    default ``<result>_failed``)."""

    def entered(o: StageOutcome) -> list[Any]:
        return [r for c in o.entered if (r := c.results.get(result)) is not None]

    def rows(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [c for c in table if f"{result}_ok" in c]

    return (
        Counter(f"{result}_evaluated", f"{label} evaluated", lambda o: sum(1 for r in entered(o) if not r.cached),
                live=lambda t: sum(1 for c in rows(t) if not c[f"{result}_cached"])),
        Counter(f"{result}_cached", f"{label} cached", lambda o: sum(1 for r in entered(o) if r.cached),
                funnel=False, live=lambda t: sum(1 for c in rows(t) if c[f"{result}_cached"])),
        Counter(failed_field or f"{result}_failed", f"{label} failed", lambda o: sum(1 for r in entered(o) if not r.ok), funnel=False,
                live=lambda t: sum(1 for c in rows(t) if not c[f"{result}_ok"])),
    )  # fmt: skip
