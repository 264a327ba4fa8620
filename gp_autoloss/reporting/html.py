"""The self-contained HTML report of one run, or several runs overlaid for comparison.

One file, no network: inline CSS, inline SVG charts and DAGs, and a few lines of inline JavaScript (it marks
the page ready, shows how old the page is, and records any script error into the page so that a headless
browser test can see it). :func:`write_html` replaces the file atomically, so a browser that reloads while a
search rewrites it sees the old page or the new one, never half a page.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from gp_autoloss.errors import OutputPathError
from gp_autoloss.reporting.charts import evolution_chart, funnel_chart, progress_charts, run_labels
from gp_autoloss.reporting.data import RunData
from gp_autoloss.reporting.summary import run_summary
from gp_autoloss.reporting.tables import (
    config_table,
    failures_table,
    funnel_table,
    latest_table,
    leaderboard_table,
    overview_table,
    sessions_table,
)

__all__ = ["render_html", "write_html", "atomic_write_text", "RELOAD_SECONDS"]

#: a page written by a running search reloads itself this often
RELOAD_SECONDS = 60

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#26364a;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c9d3df}nav{padding:6px 24px;background:#e9edf2;position:sticky;top:0;z-index:1}
nav a{margin-right:14px;color:#26364a;text-decoration:none;font-weight:600}
main{padding:8px 24px 40px}section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:14px 0;
padding:10px 16px}h2{font-size:17px;margin:6px 0 10px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:4px 0 10px;font-size:13px}th,td{border-bottom:1px solid #e3e6ea;
padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6;position:sticky;top:30px}
tbody tr:nth-child(even){background:#fafbfc}table.num td{text-align:right}
code.formula{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-word}.path{color:#777;font-size:11px}.swatch{display:inline-block;width:10px;height:10px;
margin-right:6px;border-radius:2px}.state{padding:1px 6px;border-radius:8px;font-size:12px;background:#e0e0e0}
.state.running{background:#fff1c2}.state.finished{background:#d5f0d0}.state.empty{background:#eee}
.bad,.st-failed{color:#b3261e}.st-rejected{color:#8a5a00}.st-evaluated{color:#1e7a34}.na{color:#999}
.cached{font-size:11px;color:#777}.reason{color:#555;font-size:12px}.empty{color:#777;font-style:italic}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg.chart{max-width:100%;height:auto;border:1px solid #eee}
div.dag svg{max-width:480px;max-height:280px;height:auto;width:auto}details.dag summary{cursor:pointer;
color:#26364a;font-size:12px}.banner{background:#fff8e1;border:1px solid #f0d98c;padding:6px 10px;
border-radius:4px}#js-errors{background:#fdecea;color:#b3261e;white-space:pre-wrap;padding:6px}
.overview td{vertical-align:middle}caption{caption-side:bottom;color:#666;font-size:12px;text-align:left}
"""

# First script of the page: every error (script errors, unhandled rejections, console.error, resources that
# fail to load) is counted on <html data-js-errors> and listed in #js-errors.
_ERROR_HOOK = """(function(){var n=0;function mark(m){n+=1;var d=document.documentElement;
d.setAttribute('data-js-errors',String(n));var el=document.getElementById('js-errors');
if(el){el.hidden=false;el.textContent+=String(m)+'\\n';}}
window.addEventListener('error',function(e){var t=e.target;mark(e.message||('failed to load '+
((t&&(t.src||t.href))||'a resource')));},true);
window.addEventListener('unhandledrejection',function(e){mark('unhandled rejection: '+e.reason);});
var ce=console.error;console.error=function(){mark(Array.prototype.join.call(arguments,' '));
return ce.apply(console,arguments);};})();"""

_READY = """(function(){var g=document.getElementById('generated');if(g){var s=Date.now()/1000-
Number(g.getAttribute('data-time'));var m=Math.round(s/60);g.textContent+=s<90?' (just now)':m<120?
' ('+m+' min ago)':' ('+Math.round(m/60)+' h ago)';}document.documentElement.setAttribute('data-report-ready','1');
})();"""


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{body}</section>'


def _per_run(summaries: Sequence[dict[str, Any]], labels: Sequence[tuple[str, str]], part: Any) -> str:
    if len(summaries) == 1:
        return part(summaries[0])
    return "".join(f"<h3>{escape(label)}</h3>{part(s)}" for (label, _), s in zip(labels, summaries))


def render_html(runs: Sequence[RunData], top: int = 10, *, live: bool = False) -> str:
    """The report page of one run, or of several runs overlaid in the same charts and side by side in tables.

    ``live`` marks a page written by a running search: it reloads itself every :data:`RELOAD_SECONDS`
    while the run is not finished.
    """
    summaries = [run_summary(r, top) for r in runs]
    labels = run_labels(summaries)
    now = time.time()
    title = "gp-autoloss report: " + (", ".join(lbl for lbl, _ in labels) if labels else "no run")
    running = [s for s in summaries if s["status"]["state"] == "running"]
    refresh = f'<meta http-equiv="refresh" content="{RELOAD_SECONDS}">' if live and running else ""
    banner = ""
    if running:
        banner = ('<p class="banner">Not finished: the search is running (or was interrupted). It rewrites '
                  "<code>report.html</code> in its run directory after every generation"
                  + (f"; this page reloads every {RELOAD_SECONDS} s." if refresh else "; reload to update.")
                  + "</p>")  # fmt: skip
    eval_chart, time_chart = progress_charts(summaries)
    sections = [
        _section("overview", "Runs", banner + overview_table(summaries, labels)),
        _section("progress", "Best loss over the search", f'<div class="charts">{eval_chart}{time_chart}</div>'),
        _section("evolution", "Evolution", evolution_chart(summaries)),
        _section("funnel", "Funnel per generation (Table 2)",
                 funnel_chart(summaries) + _per_run(summaries, labels, funnel_table)),
        _section("leaderboard", f"Leaderboard: top {top} losses by proxy metric",
                 _per_run(summaries, labels, leaderboard_table)),
        _section("failures", "Rejections and failures by reason", _per_run(summaries, labels, failures_table)),
        _section("latest", "Latest candidates", _per_run(summaries, labels, latest_table)),
        _section("config", "Configuration, seed, versions and machine",
                 _per_run(summaries, labels, lambda s: config_table(s) + "<h3>Sessions</h3>" + sessions_table(s))),
    ]  # fmt: skip
    nav = "".join(f'<a href="#{sid}">{name}</a>' for sid, name in (
        ("overview", "Runs"), ("progress", "Progress"), ("evolution", "Evolution"), ("funnel", "Funnel"),
        ("leaderboard", "Leaderboard"), ("failures", "Failures"), ("latest", "Latest"), ("config", "Config")))
    from gp_autoloss import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    return "".join([
        '<!DOCTYPE html>\n<html lang="en" data-report="gp-autoloss"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', refresh,
        f"<title>{escape(title)}</title><script>{_ERROR_HOOK}</script><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p id=\"generated\" data-time=\"{now:.0f}\">generated {stamp} by "
        f"gp-autoloss {escape(__version__)}</p></header><nav>{nav}</nav>",
        '<pre id="js-errors" hidden></pre><main>', *sections, "</main>",
        f'<script type="application/json" id="report-meta">{_json_in_html(_meta(summaries))}</script>',
        f"<script>{_READY}</script></body></html>\n",
    ])  # fmt: skip


def _meta(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"runs": [{"run": s["run"], "state": s["status"]["state"], "candidates": s["status"]["candidates"],
                      "generations_finished": s["status"]["generations_finished"]} for s in summaries]}  # fmt: skip


def _json_in_html(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    out = Path(path)
    tmp = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    return out


def write_html(runs: Sequence[RunData], path: str | Path, top: int = 10, *, live: bool = False) -> Path:
    """Render the report of ``runs`` and write it to ``path`` atomically."""
    out = Path(path)
    if not out.parent.is_dir():
        raise OutputPathError(f"cannot write {str(out)!r}: directory {str(out.parent)!r} does not exist")
    return atomic_write_text(out, render_html(runs, top, live=live))
