"""Reading a run back: leaderboard, funnel (Table 2), evolution scatter (Figure 4), export."""

from gp_autoloss.reporting.data import RunData, load_run
from gp_autoloss.reporting.export import export_snippet
from gp_autoloss.reporting.plots import plot_evolution
from gp_autoloss.reporting.text import format_report

__all__ = ["RunData", "export_snippet", "format_report", "load_run", "plot_evolution"]
