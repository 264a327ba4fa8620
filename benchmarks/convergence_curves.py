"""The paper's Figure 3 at small scale: training-loss and val-mAP curves of the loss combinations.

    python -m benchmarks.convergence_curves                 # from benchmarks/results/loss_table_*.json
    python -m benchmarks.convergence_curves --run-missing   # train the tables first where they are missing

The curves come from the trainings of ``benchmarks.loss_table`` (it records every iteration's training loss
and every epoch's val bbox mAP). The left panel shows each combination's total training loss (mean over
seeds, smoothed over ``--smooth`` iterations); losses of different formulas have different scales and
offsets (CSE-B's regression term is negative), so compare shapes, not levels. The right panel shows the val
bbox mAP after every epoch (mean over seeds, bars: min to max). Writes ``convergence_<detector>.png`` and ``convergence_<detector>.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convergence_curves",
                                     description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--detectors", nargs="+", default=["faster_rcnn_tiny", "fcos_tiny"])
    parser.add_argument("--results-dir", default="benchmarks/results")
    parser.add_argument("--smooth", type=int, default=5, help="moving-average window in iterations (default 5)")
    parser.add_argument("--run-missing", action="store_true", help="run benchmarks.loss_table where needed")
    return parser.parse_args(argv)


def curves_by_row(trainings: list[dict[str, Any]], smooth: int) -> dict[str, dict[str, Any]]:
    """Per row: training loss per iteration and val mAP per epoch, aggregated over seeds."""
    rows: dict[str, dict[str, Any]] = {}
    for t in trainings:
        curves = t.get("curves")
        if not curves or not curves.get("train"):
            continue
        train = curves["train"]
        loss = [p["loss"] for p in train if "loss" in p]
        smoothed = [statistics.fmean(loss[max(0, k - smooth + 1): k + 1]) for k in range(len(loss))]
        row = rows.setdefault(t["row"], {"loss": [], "map": []})
        row["loss"].append(smoothed)
        row["map"].append([v.get("coco/bbox_mAP", 0.0) for v in curves.get("val", [])])
    out = {}
    for name, row in rows.items():
        n_it = min(len(c) for c in row["loss"])
        n_ep = min(len(c) for c in row["map"]) if row["map"] else 0
        out[name] = {
            "iterations": list(range(1, n_it + 1)),
            "loss": [statistics.fmean(c[k] for c in row["loss"]) for k in range(n_it)],
            "epochs": list(range(1, n_ep + 1)),
            "map_mean": [statistics.fmean(c[k] for c in row["map"]) for k in range(n_ep)],
            "map_min": [min(c[k] for c in row["map"]) for k in range(n_ep)],
            "map_max": [max(c[k] for c in row["map"]) for k in range(n_ep)],
            "seeds": len(row["loss"]),
        }
    return out


def plot(detector: str, data: dict[str, dict[str, Any]], path: Path) -> Path:
    """Two panels: training loss against iterations, val mAP against epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5))
    cmap = plt.get_cmap("tab10")
    for k, (name, d) in enumerate(data.items()):
        color = cmap(k % 10)
        style = "-" if "CSE" in name or "demo" in name else "--"
        left.plot(d["iterations"], d["loss"], style, color=color, label=name, lw=1.4)
        lo = [m - a for m, a in zip(d["map_mean"], d["map_min"])]
        hi = [b - m for m, b in zip(d["map_mean"], d["map_max"])]
        right.errorbar(d["epochs"], d["map_mean"], yerr=[lo, hi], fmt=style + "o", color=color, label=name,
                       capsize=3, ms=4, lw=1.4)  # fmt: skip
    left.set_xlabel("iteration")
    left.set_ylabel("training loss (total)")
    right.set_xlabel("epoch")
    right.set_ylabel("val bbox mAP")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    handles, labels = right.get_legend_handles_labels()
    labels = [lbl if len(lbl) <= 60 else lbl[:57] + "..." for lbl in labels]
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(f"{detector}: convergence of the loss combinations (dashed: hand-designed, solid: searched)")
    fig.tight_layout(rect=(0, 0.05 + 0.035 * ((len(labels) + 2) // 3), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Plot the curves of every detector whose loss table exists (or is run with ``--run-missing``)."""
    args = _parse_args(argv)
    results = Path(args.results_dir)
    wrote = 0
    for detector in args.detectors:
        source = results / f"loss_table_{detector}.json"
        if not source.is_file() and args.run_missing:
            from benchmarks import loss_table

            rc = loss_table.main(["--detectors", detector, "--out-dir", str(results)])
            if rc != 0:
                return rc
        if not source.is_file():
            print(f"{detector}: no {source} (run python -m benchmarks.loss_table first)", file=sys.stderr)
            continue
        data = curves_by_row(json.loads(source.read_text(encoding="utf-8"))["trainings"], args.smooth)
        if not data:
            print(f"{detector}: {source} has no curves", file=sys.stderr)
            continue
        png = plot(detector, data, results / f"convergence_{detector}.png")
        with open(results / f"convergence_{detector}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "epoch", "map_mean", "map_min", "map_max", "final_loss", "seeds"])
            for name, d in data.items():
                for e, mean, lo, hi in zip(d["epochs"], d["map_mean"], d["map_min"], d["map_max"]):
                    writer.writerow([name, e, round(mean, 5), round(lo, 5), round(hi, 5),
                                     round(d["loss"][-1], 4), d["seeds"]])  # fmt: skip
        print(f"wrote {png} and {png.with_suffix('.csv')}")
        wrote += 1
    return 0 if wrote else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
