"""What a finished (or interrupted) search reports, read from its run file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gp_autoloss.fidelity import FULL, full_proxy_equivalents, proxy_budget
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
    #: computed trainings per proxy budget of successive halving (``{"proxy@1/9": 27, ...}``; empty without rungs)
    budget_evaluations: dict[str, int] = field(default_factory=dict)
    #: every proxy training of the run (rungs included), in whole proxy trainings
    proxy_equivalents: float = 0.0

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
        budget_evaluations=budget_counts(table),
        proxy_equivalents=proxy_cost(table),
    )


def _proxy_fidelities(row: dict[str, Any]) -> list[str]:
    return [k[:-3] for k in row if k.endswith("_ok") and k.startswith("proxy") and not row.get(k[:-3] + "_cached")]


def budget_counts(table: list[dict[str, Any]]) -> dict[str, int]:
    """Computed trainings per proxy budget (``proxy@N/M``) in a run's :meth:`~RunStorage.results_table`."""
    counts: dict[str, int] = {}
    for row in table:
        for fid in _proxy_fidelities(row):
            budget = proxy_budget(fid)
            if budget is not None and budget != FULL:
                counts[fid] = counts.get(fid, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: proxy_budget(kv[0]) or FULL))


def proxy_cost(table: list[dict[str, Any]]) -> float:
    """A run's proxy trainings, rungs included, in whole proxy trainings (see
    :func:`~gp_autoloss.fidelity.full_proxy_equivalents`)."""
    return full_proxy_equivalents(_proxy_fidelities(row) for row in table)
