"""The evolution scatter (paper Figure 4): proxy metric of every evaluated candidate per generation."""

from __future__ import annotations

from pathlib import Path

from gp_autoloss.reporting.data import RunData

__all__ = ["plot_evolution"]


def plot_evolution(runs: list[RunData], path: str | Path) -> Path:
    """Scatter of proxy metric against generation (one colour per run) plus best-so-far against
    proxy evaluations; written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, run in enumerate(runs):
        label = f"{run.config.get('strategy')} ({run.run_dir.name})"
        rows = [c for c in run.candidates if c.get("proxy_ok")]
        xs = [max(c["generation"], -1) + 0.15 * (k - (len(runs) - 1) / 2) for c in rows]
        ax1.scatter(xs, [c["proxy_metric"] for c in rows], s=14, alpha=0.7, label=label)
        ordered = sorted((c for c in rows if not c.get("proxy_cached")), key=lambda c: c["id"])
        best, curve = float("-inf"), []
        for c in ordered:
            best = max(best, c["proxy_metric"])
            curve.append(best)
        ax2.step(range(1, len(curve) + 1), curve, where="post", label=label)
    ax1.set_xlabel("generation (-1: initial loss)")
    ax1.set_ylabel("proxy metric")
    ax1.set_title("evaluated losses per generation")
    ax2.set_xlabel("proxy evaluations")
    ax2.set_ylabel("best proxy metric so far")
    ax2.set_xscale("log")
    ax2.set_title("best-so-far vs evaluations")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
