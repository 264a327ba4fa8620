"""The report's charts, one or several runs overlaid: best-so-far against proxy evaluations and against time,
the evolution scatter (Figure 4) and the funnel totals (Table 2), as inline SVG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gp_autoloss.reporting.series import SCATTER_PER_GENERATION
from gp_autoloss.reporting.svgchart import PALETTE, Series, bar_chart, line_chart

__all__ = ["run_labels", "progress_charts", "evolution_chart", "funnel_chart"]


def run_labels(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """A short distinct label and a colour per run: ``strategy · directory``."""
    out, seen = [], set()
    for k, s in enumerate(summaries):
        name = s["run"].rstrip("/").rsplit("/", 1)[-1] or s["run"]
        label = f"{s['config'].get('strategy', '?')} · {name}"
        if label in seen:
            label = f"{label} ({k + 1})"
        seen.add(label)
        out.append((label, PALETTE[k % len(PALETTE)]))
    return out


def _steps(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A best-so-far staircase reduced to the points where it changes, plus its last point."""
    out: list[tuple[float, float]] = []
    for x, y in points:
        if not out or y != out[-1][1]:
            out.append((x, y))
    if points and out[-1] != points[-1]:
        out.append(points[-1])
    return out


def _time_unit(seconds: float) -> tuple[float, str]:
    if seconds > 2 * 3600:
        return 3600.0, "hours"
    if seconds > 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def progress_charts(summaries: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """Best proxy metric so far against proxy evaluations (log scale beyond 20) and against wall-clock time."""
    labels = run_labels(summaries)
    curves = [[r for r in s["best_so_far"] if r["best"] is not None] for s in summaries]
    most = max((len(s["best_so_far"]) for s in summaries), default=0)
    longest = max((r["seconds"] for c in curves for r in c), default=0.0)
    unit, unit_name = _time_unit(longest)
    by_eval, by_time = [], []
    for (label, color), curve in zip(labels, curves):
        by_eval.append(Series(label, _steps([(r["evaluation"], r["best"]) for r in curve]), color, "step"))
        by_time.append(Series(label, _steps([(r["seconds"] / unit, r["best"]) for r in curve]), color, "step"))
    a = line_chart(by_eval, title="Best proxy metric vs proxy evaluations", xlabel="proxy evaluations"
                   + (" (log scale)" if most > 20 else ""), ylabel="best proxy metric so far", log_x=most > 20,
                   integer_x=True, empty="no proxy evaluation yet")  # fmt: skip
    b = line_chart(by_time, title="Best proxy metric vs time", xlabel=f"{unit_name} since the run was created",
                   ylabel="best proxy metric so far", empty="no proxy evaluation yet")  # fmt: skip
    return a, b


def _jitter(cid: int) -> float:
    return ((cid * 2654435761) % 1000) / 1000 - 0.5


def evolution_chart(summaries: Sequence[dict[str, Any]]) -> str:
    """Proxy metric of the evaluated losses per generation, one colour per run (Figure 4)."""
    labels = run_labels(summaries)
    n = len(summaries)
    series = []
    for k, ((label, color), s) in enumerate(zip(labels, summaries)):
        offset = (k - (n - 1) / 2) * (0.5 / max(n, 1))
        width = 0.35 / max(n, 1)
        pts = [(p["generation"] + offset + width * _jitter(p["id"]), p["metric"]) for p in s["evolution"]]
        tips = [f"#{p['id']} gen {p['generation']}: {p['metric']:.4f}  {p['formula']}" for p in s["evolution"]]
        series.append(Series(label, pts, color, "scatter", tips))
    gens = [p["generation"] for s in summaries for p in s["evolution"]]
    x_range = (min(gens) - 0.5, max(gens) + 0.5) if gens else None
    return line_chart(series, title="Evaluated losses per generation (Figure 4)", integer_x=True, x_range=x_range,
                      xlabel=f"generation (-1: initial loss; at most {SCATTER_PER_GENERATION} best per generation)",
                      ylabel="proxy metric", width=760, empty="no evaluated loss yet")  # fmt: skip


def funnel_chart(summaries: Sequence[dict[str, Any]]) -> str:
    """Candidates left after each stage, summed over generations, one bar per run (log scale); the stages are
    those of every run, in the order they first appear."""
    labels = run_labels(summaries)
    columns: dict[str, str] = {}
    for s in summaries:
        for c in s["funnel_columns"]:
            if c["funnel"]:
                columns.setdefault(c["field"], c["label"])
    groups = []
    for (label, color), s in zip(labels, summaries):
        values: list[float | None] = []
        for f in columns:
            # counts only: a stage the run did not apply (None, "not checked") has no bar
            cells = [c for c in (row.get(f) for row in s["funnel"]) if isinstance(c, (int, float))]
            values.append(float(sum(cells)) if cells else None)
        groups.append((label, color, values))
    return bar_chart(list(columns.values()), groups, title="Funnel: candidates per stage, all "
                     "generations (Table 2)", ylabel="candidates (log scale)", log_y=True, width=760)  # fmt: skip
