"""A run's report as one JSON-ready dict: what ``report --json`` prints and what the HTML page draws."""

from __future__ import annotations

from typing import Any

from gp_autoloss.reporting.data import RunData
from gp_autoloss.reporting.environment import load_sessions
from gp_autoloss.reporting.series import (
    best_so_far,
    evolution_points,
    failure_groups,
    finite,
    funnel,
    leaderboard,
    run_status,
)

__all__ = ["run_summary", "REPORT_FORMAT"]

#: version of the summary layout (bumped when keys change meaning)
REPORT_FORMAT = 2


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (strict JSON), recursively."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def run_summary(run: RunData, top: int = 10) -> dict[str, Any]:
    """Everything the report shows about ``run``.

    Keys: ``run``, ``config``, ``stage_totals``, ``generations`` (records without RNG states), ``best``,
    ``initial``, ``failures`` (count per reason kind), and ``status``, ``funnel`` (Table 2 per generation),
    ``funnel_columns`` (its columns: field, label, and whether it is a funnel count), ``best_so_far`` (per
    computed proxy evaluation), ``evolution`` (Figure 4 points), ``leaderboard`` (top
    ``top``), ``failure_groups`` (with an example each), ``latest`` (the last 25 candidates), ``sessions``
    (versions and machine of the processes that ran the search).
    """
    generations = []
    for g in run.generations:
        rec = {k: v for k, v in g.items() if k != "rng_state"}
        rec["stats"] = {k: v for k, v in g["stats"].items() if k != "rng_end"}
        generations.append(rec)
    latest = []
    for c in run.candidates[-25:][::-1]:
        row = {k: c.get(k) for k in ("id", "formula", "generation", "origin", "status", "stage", "reason")}
        row["metrics"] = {s: finite(c.get(f"{s}_metric")) for s in ("verify", "proxy") if f"{s}_ok" in c}
        row["checks"] = {s: c[f"{s}_ok"] for s in ("validness", "convergence") if f"{s}_ok" in c}
        latest.append(row)
    return _clean({
        "format": REPORT_FORMAT, "run": str(run.run_dir), "config": run.config, "stage_totals": run.stage_totals(),
        "generations": generations, "best": run.best, "initial": run.initial, "failures": run.failures(),
        "status": run_status(run), "funnel": funnel(run),
        "funnel_columns": [{"field": c.field, "label": c.label, "funnel": c.funnel} for c in run.funnel_columns], "best_so_far": best_so_far(run),
        "evolution": evolution_points(run), "leaderboard": leaderboard(run, top),
        "failure_groups": failure_groups(run), "latest": latest, "sessions": load_sessions(run.run_dir),
    })  # fmt: skip
