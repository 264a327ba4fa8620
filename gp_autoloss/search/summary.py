"""What a finished (or interrupted) search reports, read from its run file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gp_autoloss.search.storage import RunStorage

__all__ = ["SearchSummary", "run_summary"]


@dataclass
class SearchSummary:
    """What a finished search reports."""

    best_formula: str | None
    best_metric: float | None
    initial_formula: str
    initial_metric: float | None
    proxy_evaluations: int
    verify_evaluations: int
    cache_hits: int
    candidates: int
    generations: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_summary(storage: RunStorage) -> SearchSummary:
    """The summary of what ``storage`` holds: best and initial loss by proxy metric, evaluations computed and
    shared, candidates, finished generations, wall-clock seconds."""
    table = storage.results_table()
    rows = [r for r in table if r.get("proxy_ok")]
    best = max(rows, key=lambda r: (r["proxy_metric"], -r["id"]), default=None)
    init = next((r for r in table if r["origin"] == "initial"), None)
    return SearchSummary(
        best_formula=best["formula"] if best else None,
        best_metric=best["proxy_metric"] if best else None,
        initial_formula=init["formula"] if init else "",
        initial_metric=init.get("proxy_metric") if init else None,
        proxy_evaluations=storage.count_results("proxy", cached=False),
        verify_evaluations=storage.count_results("verify", cached=False),
        cache_hits=sum(storage.count_results(s, cached=True) for s in ("verify", "proxy")),
        candidates=len(storage.candidates()),
        generations=sum(1 for g in storage.generations() if g["finished"]),
        seconds=float(storage.meta("seconds", "0") or 0),
    )
