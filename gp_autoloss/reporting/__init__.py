"""Reading a run back: leaderboard, funnel (Table 2), evolution scatter (Figure 4), export, HTML report."""

from gp_autoloss.reporting.data import RunData, load_run
from gp_autoloss.reporting.export import export_snippet
from gp_autoloss.reporting.html import render_html, write_html
from gp_autoloss.reporting.live import publish_report
from gp_autoloss.reporting.plots import plot_evolution
from gp_autoloss.reporting.summary import run_summary
from gp_autoloss.reporting.text import format_report

__all__ = ["RunData", "export_snippet", "format_report", "load_run", "plot_evolution", "publish_report",
           "render_html", "run_summary", "write_html"]  # fmt: skip
