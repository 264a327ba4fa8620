"""The report's HTML tables (overview, funnel, leaderboard, latest candidates, failures, config, sessions).

Each function takes summaries from :func:`gp_autoloss.reporting.summary.run_summary` and returns HTML. Every
string that comes from a run (formulas, reasons, config values) is escaped: a run file may not be trusted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape
from typing import Any

from gp_autoloss.reporting.dags import dag_svg, undrawn_note

__all__ = ["overview_table", "funnel_table", "leaderboard_table", "latest_table", "failures_table",
           "config_table", "sessions_table", "fmt_metric", "fmt_seconds"]  # fmt: skip

#: leaderboard entries drawn as DAGs, and how many of those are shown unfolded
DAG_ENTRIES, DAG_OPEN = 10, 1


def fmt_metric(value: Any) -> str:
    """A metric with 4 decimals, or an en dash for none."""
    return "\u2013" if value is None else f"{value:.4f}" if isinstance(value, float) else escape(str(value))


def fmt_seconds(seconds: float | None) -> str:
    """Seconds as ``12.3 s``, ``4 min 03 s`` or ``2 h 05 min``."""
    if seconds is None:
        return "\u2013"
    s = float(seconds)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def _cell(value: Any) -> str:
    return "\u2013" if value is None else escape(str(value))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table from header texts (escaped here) and row cells (HTML, escaped by the caller)."""
    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _swatch(color: str) -> str:
    return f'<span class="swatch" style="background:{color}"></span>'


def overview_table(summaries: Sequence[dict[str, Any]], labels: Sequence[tuple[str, str]]) -> str:
    """One row per run: settings, state, progress, evaluations, best loss, wall-clock time."""
    rows = []
    for (label, color), s in zip(labels, summaries):
        cfg, st = s["config"], s["status"]
        rows.append([
            f"{_swatch(color)}{escape(label)}<div class=\"path\">{escape(s['run'])}</div>",
            _cell(cfg.get("space")), _cell(cfg.get("adapter")), _cell(cfg.get("seed")),
            f'<span class="state {escape(st["state"])}">{escape(st["state"])}</span>',
            f"{st['generations_finished']}/{st['generations_planned']}", str(st["candidates"]),
            str(st["proxy_evaluations"]), fmt_metric(st["best_metric"]),
            f'<code class="formula">{_cell(st["best_formula"])}</code>', fmt_seconds(st["seconds"]),
        ])  # fmt: skip
    head = ["run", "space", "adapter", "seed", "state", "generations", "candidates", "proxy evals", "best proxy",
            "best loss", "wall-clock"]  # fmt: skip
    return _table(head, rows, "overview")


def funnel_table(summary: dict[str, Any]) -> str:
    """Table 2 per generation for one run, one column per count its stages keep (``funnel_columns``); a
    generation in progress is marked."""
    columns = summary["funnel_columns"]
    rows = []
    for r in summary["funnel"]:
        gen = f"{r['generation']}" + ("" if r["finished"] else ' <span class="state running">in progress</span>')
        cells = [gen] + [_cell(r.get(c["field"])) for c in columns]
        cells += [fmt_metric(r.get("threshold")), fmt_metric(r.get("best_metric")), fmt_seconds(r.get("seconds"))]
        rows.append(cells)
    if not rows:
        return '<p class="empty">No generation started yet.</p>'
    head = ["gen", *(c["label"] for c in columns), "D_verify threshold", "best proxy", "time"]
    return _table(head, rows, "funnel num")


def _stage_cell(stages: dict[str, Any], stage: str, metric: bool) -> str:
    res = stages.get(stage)
    if res is None:
        return '<span class="na" title="not run by this strategy">\u2013</span>'
    if not res["ok"]:
        return f'<span class="bad" title="{escape(res["reason"] or "")}">failed</span>'
    text = fmt_metric(res["metric"]) if metric else "pass"
    return text + (' <span class="cached" title="result shared with an equivalent loss">cached</span>'
                   if res["cached"] else "")  # fmt: skip


def leaderboard_table(summary: dict[str, Any]) -> str:
    """The best losses: infix formula, DAG (top entries), each stage's outcome, generation, time spent."""
    space = summary["config"].get("space", "")
    rows = []
    undrawn = 0
    for e in summary["leaderboard"]:
        formula = f'<code class="formula">{escape(e["formula"])}</code>'
        if e["rank"] <= DAG_ENTRIES:
            svg = dag_svg(e["prefix"], str(space))
            if svg:
                opened = " open" if e["rank"] <= DAG_OPEN else ""
                formula += f'<details class="dag"{opened}><summary>DAG</summary><div class="dag">{svg}</div></details>'
            else:
                undrawn += 1
        st = e["stages"]
        rows.append([str(e["rank"]), fmt_metric(e["proxy_metric"]), formula, _stage_cell(st, "validness", False),
                     _stage_cell(st, "convergence", False), _stage_cell(st, "verify", True),
                     _stage_cell(st, "proxy", True), str(e["generation"]), escape(e["origin"]),
                     fmt_seconds(e["seconds"])])  # fmt: skip
    if not rows:
        return '<p class="empty">No loss has a proxy metric yet.</p>'
    head = ["#", "proxy", "loss", "validness", "convergence", "D_verify", "proxy", "gen", "origin", "time"]
    note = f'<p class="note dag-note">{escape(undrawn_note(summary["config"], undrawn))}</p>' if undrawn else ""
    return note + _table(head, rows, "leaderboard")


def latest_table(summary: dict[str, Any]) -> str:
    """The most recent candidates with their status, deciding stage and reason: what the search does now."""
    rows = []
    for c in summary["latest"]:
        checks = " ".join(f"{escape(k)} {'pass' if v else 'fail'}" for k, v in c["checks"].items())
        metrics = " ".join(f"{escape(k)} {fmt_metric(v)}" for k, v in c["metrics"].items())
        rows.append([str(c["id"]), str(c["generation"]), f'<span class="st-{escape(c["status"])}">'
                     f'{escape(c["status"])}</span>', _cell(c["stage"]), checks or "\u2013", metrics or "\u2013",
                     f'<code class="formula">{escape(c["formula"])}</code>',
                     f'<span class="reason">{escape((c["reason"] or "")[:300])}</span>'])  # fmt: skip
    if not rows:
        return '<p class="empty">No candidate yet.</p>'
    return _table(["id", "gen", "status", "stage", "checks", "metrics", "loss", "reason"], rows, "latest")


def failures_table(summary: dict[str, Any]) -> str:
    """Rejections and failures grouped by stage and reason kind, each with an example."""
    rows = [[str(g["count"]), escape(g["stage"]), escape(g["status"]), f'<span class="reason">{escape(g["reason"])}'
             f"</span>", f'<code class="formula">{escape(g["example_formula"])}</code><div class="reason">'
             f'{escape(g["example_reason"])}</div>'] for g in summary["failure_groups"]]  # fmt: skip
    if not rows:
        return '<p class="empty">No rejected or failed candidate.</p>'
    return _table(["count", "stage", "status", "reason (numbers masked)", "example"], rows, "failures")


def config_table(summary: dict[str, Any]) -> str:
    """The run's settings as stored in its run file."""
    rows = [[f"<code>{escape(str(k))}</code>", f"<code>{escape(repr(v) if isinstance(v, str) else str(v))}</code>"]
            for k, v in sorted(summary["config"].items())]  # fmt: skip
    return _table(["setting", "value"], rows, "config") if rows else '<p class="empty">No settings stored.</p>'


def sessions_table(summary: dict[str, Any]) -> str:
    """Versions and machine of each process that ran the search."""
    rows = []
    for s in summary["sessions"]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.get("started") or 0))
        versions = ", ".join(f"{escape(str(k))} {escape(str(v))}" for k, v in sorted((s.get("versions") or {}).items()))
        machine = f"{_cell(s.get('host'))}, {_cell(s.get('platform'))}, {_cell(s.get('cpus'))} CPUs"
        if s.get("cuda"):
            machine += f", {escape(str(s['cuda']))}"
        rows.append([started, _cell(s.get("pid")), machine, f"Python {_cell(s.get('python'))}", versions])
    if not rows:
        return '<p class="empty">Not recorded (the run was made before sessions were recorded, or is empty).</p>'
    return _table(["started", "pid", "machine", "python", "versions"], rows, "sessions")
