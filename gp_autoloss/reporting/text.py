"""Plain-text report: the best losses, the funnel per generation, failures."""

from __future__ import annotations

from gp_autoloss.reporting.data import RunData
from gp_autoloss.search.summary import budget_counts, proxy_cost

__all__ = ["format_report"]


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_report(run: RunData, top: int = 10) -> str:
    """The report as text."""
    cfg = run.config
    lines = [
        f"run {run.run_dir}: strategy={cfg.get('strategy')} space={cfg.get('space')} adapter={cfg.get('adapter')} "
        f"seed={cfg.get('seed')} generations={len([g for g in run.generations if g['finished']])}/"
        f"{cfg.get('generations')} population={cfg.get('population')}",
    ]
    init, best = run.initial, run.best
    if init is not None:
        lines.append(f"initial loss: {init['formula']}   proxy metric {_fmt(init.get('proxy_metric'))}")
    if best is not None:
        lines.append(f"best loss:    {best['formula']}   proxy metric {_fmt(best['proxy_metric'])}")
    totals = run.stage_totals()
    lines.append(
        f"evaluations: proxy {totals['proxy']['computed']} (+{totals['proxy']['cached']} from cache), "
        f"D_verify {totals['verify']['computed']} (+{totals['verify']['cached']} from cache), "
        f"candidates {len(run.candidates)}, {float(run.meta.get('seconds', 0) or 0):.1f} s"
    )
    rungs = budget_counts(run.candidates)
    if rungs:
        lines.append(f"successive halving: {', '.join(f'{f} trained {n}' for f, n in rungs.items())}; all proxy "
                     f"training = {proxy_cost(run.candidates):.2f} full proxies")  # fmt: skip
    lines += ["", f"top {top} losses by proxy metric:", f"{'rank':>4}  {'proxy':>8}  {'verify':>8}  gen  formula"]
    for k, row in enumerate(run.evaluated[:top], 1):
        lines.append(f"{k:>4}  {_fmt(row['proxy_metric']):>8}  {_fmt(row.get('verify_metric')):>8}  "
                     f"{row['generation']:>3}  {row['formula']}")  # fmt: skip
    lines += ["", "funnel per generation (paper Table 2):"]
    fields = [c.field for c in run.funnel_columns if c.funnel]
    header = "gen  " + "  ".join(f"{f:>15}" for f in fields) + "  best"
    lines.append(header)
    for g in run.generations:
        st = g["stats"]
        cells = "  ".join(f"{_fmt(st.get(f)):>15}" for f in fields)
        lines.append(f"{g['generation']:>3}  {cells}  {_fmt(st.get('best_metric'))}")
    fails = run.failures()
    if fails:
        lines += ["", "rejections and failures by reason:"]
        lines += [f"{n:>6}  {reason}" for reason, n in list(fails.items())[:15]]
    return "\n".join(lines)
