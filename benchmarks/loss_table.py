"""The paper's Tables 6 and 7 at small scale: hand-designed losses vs the searched ones on tiny detectors.

    python -m benchmarks.loss_table                                # both tables, 3 seeds
    python -m benchmarks.loss_table --detectors fcos_tiny --seeds 0 1 2 3 4 --epochs 6 --jobs 2

Every row trains the same tiny detector on the same synthetic shapes split (``data/shapes_v2``, generated when
missing) with one loss combination and tests it on val; several training seeds give mean ± std bbox mAP.
Hand-designed losses are mmdet's own modules (``CrossEntropyLoss``, ``L1Loss``, ``IoULoss``,
``BoundedIoULoss``, ``GIoULoss``, ``DIoULoss``, ``CIoULoss``, ``FocalLoss``, ``GHMC``); the searched ones are
``GPLoss`` of the paper's formulas. Every row uses gp-autoloss's IoU-aware heads (the IoU target replaces
FCOS's centerness for all rows alike). A last row per detector trains the best loss ``make demo`` found, when
its run exists (``--demo-run``).

The per-iteration training losses and per-epoch val mAP of every training are kept for
``benchmarks.convergence_curves`` (Figure 3). Writes ``loss_table_<detector>.csv`` (mean ± std per row),
``loss_table_<detector>.json`` (every training, with curves).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.holdout import paired_difference


@dataclass(frozen=True)
class Combo:
    """One row: a classification and a regression loss, each a native mmdet loss config or a GP formula."""

    name: str
    cls: dict[str, Any] | str
    reg: dict[str, Any] | str
    #: head settings the row needs (e.g. ``reg_decoded_bbox`` False for the delta-space L1 loss)
    head: tuple[tuple[str, Any], ...] = ()


CE = {"type": "CrossEntropyLoss", "use_sigmoid": False, "loss_weight": 1.0}
FL = {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0}
GHM = {"type": "DenseGHMCLoss", "bins": 30, "momentum": 0.75, "use_sigmoid": True, "loss_weight": 1.0}


def _iou(kind: str, weight: float) -> dict[str, Any]:
    return {"type": kind, "loss_weight": weight}


#: Table 6 (two-stage): mmdet's Faster R-CNN IoU-loss configs weigh the box loss x10
FASTER_RCNN = (
    Combo("CE + L1", CE, {"type": "L1Loss", "loss_weight": 1.0}, (("reg_decoded_bbox", False),)),
    Combo("CE + IoU", CE, _iou("IoULoss", 10.0)),
    Combo("CE + BoundedIoU", CE, {"type": "BoundedIoULoss", "beta": 0.2, "loss_weight": 10.0}),
    Combo("CE + GIoU", CE, _iou("GIoULoss", 10.0)),
    Combo("CE + DIoU", CE, _iou("DIoULoss", 10.0)),
    Combo("CE + CIoU", CE, _iou("CIoULoss", 10.0)),
    Combo("CE + CSE-A_reg", CE, "cse_a_reg"),
    Combo("CSE-A_cls + GIoU", "cse_a_cls", _iou("GIoULoss", 10.0)),
    Combo("CSE-A", "cse_a_cls", "cse_a_reg"),
)
#: Table 7 (one-stage)
FCOS = (
    Combo("FL + GIoU", FL, _iou("GIoULoss", 1.0)),
    Combo("FL + DIoU", FL, _iou("DIoULoss", 1.0)),
    Combo("FL + CIoU", FL, _iou("CIoULoss", 1.0)),
    Combo("GHM-C + GIoU", GHM, _iou("GIoULoss", 1.0)),
    Combo("FL + CSE-B_reg", FL, "cse_b_reg"),
    Combo("CSE-B_cls + GIoU", "cse_b_cls", _iou("GIoULoss", 1.0)),
    Combo("CSE-B", "cse_b_cls", "cse_b_reg"),
)
TABLES = {"faster_rcnn_tiny": FASTER_RCNN, "fcos_tiny": FCOS}
#: the row each table's others are compared with
BASELINE = {"faster_rcnn_tiny": "CE + GIoU", "fcos_tiny": "FL + GIoU"}
#: training epochs per detector when --epochs is not given (None: the adapter's default proxy)
EPOCHS: dict[str, int | None] = {"faster_rcnn_tiny": None, "fcos_tiny": None}
#: the run ``make demo`` leaves behind (its searched branch and detector)
DEMO_RUN = "demo_out/search_fcos_cse"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loss_table", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--detectors", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--rows", nargs="+", help="only these rows (names as in the table)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="training epochs (default: the adapter's default proxy, "
                                                   "which starts from the pretrained tiny backbone)")
    parser.add_argument("--data-root", default="data/shapes_v2", help="COCO-format dataset (synthetic when missing)")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (default 2, one thread each)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--demo-run", default=DEMO_RUN, help="run whose best loss gets its own row")
    parser.add_argument("--time-limit", type=float, default=1800.0)
    parser.add_argument("--out-dir", default="benchmarks/results")
    args = parser.parse_args(argv)
    if (args.epochs is not None and args.epochs < 1) or args.jobs < 1:
        parser.error("--epochs and --jobs must be >= 1")
    return args


def demo_combo(run_dir: Path, detector: str) -> Combo | None:
    """A row for the best loss of a finished search run on ``detector`` (``None`` if there is none)."""
    from gp_autoloss.reporting import load_run
    from gp_autoloss.search import StorageError

    try:
        run = load_run(run_dir)
    except StorageError:
        return None
    options = run.config.get("adapter_options") or {}
    if run.config.get("adapter") != "mmdet" or options.get("detector", "fcos_tiny") != detector or run.best is None:
        return None
    base = TABLES[detector][0]  # the hand-designed pair: the found loss replaces its searched branch
    if run.config["space"] == "iou_reg":
        return Combo(f"demo best reg ({run.best['formula']})", base.cls, run.best["prefix"])
    return Combo(f"demo best cls ({run.best['formula']})", run.best["prefix"], base.reg)


def _train_one(adapter: Any, detector: str, combo: Combo, seed: int) -> dict[str, Any]:
    from detectors_adapter.detectors import get_detector
    from gp_autoloss import known_loss, parse
    from gp_autoloss.fitness import CandidateFailed
    from gp_autoloss.known import KNOWN_LOSSES

    det = get_detector(detector)
    head = "model." + ".".join(det.head)
    options: dict[str, Any] = {f"{head}.{k}": v for k, v in combo.head}
    formulas = {}
    for branch, choice, space in (("loss_cls", combo.cls, det.cls_space), ("loss_bbox", combo.reg, "iou_reg")):
        if isinstance(choice, str):  # a known loss's name or a formula
            formulas[branch] = (known_loss(choice) if choice in KNOWN_LOSSES else parse(choice, space)).to_prefix()
        else:
            options[f"{head}.{branch}"] = {"_delete_": True, **choice}
    start = time.perf_counter()
    row: dict[str, Any] = {"detector": detector, "row": combo.name, "seed": seed}
    try:
        result = adapter.train(formulas.get("loss_cls"), seed, "proxy", other_formula=formulas.get("loss_bbox"),
                               cfg_options=options, curves=True)  # fmt: skip
    except CandidateFailed as exc:
        row.update(mAP=None, error=str(exc)[:300], seconds=round(time.perf_counter() - start, 1))
        return row
    row.update(mAP=result["metric"], AP50=result["metrics"].get("coco/bbox_mAP_50"),
               iters=result["iters"], seconds=round(time.perf_counter() - start, 1), curves=result.get("curves"))
    return row


def summarize(rows: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """Mean ± std mAP per row, and whether its gap to ``baseline`` exceeds twice the standard error.

    Rows trained under one seed share the pretrained start, the head's initialisation and every batch
    (common random numbers), so the gap is measured seed by seed: the mean of the paired differences and
    their standard error.
    """
    names = list(dict.fromkeys(r["row"] for r in rows))
    by_seed = {(r["row"], r["seed"]): r["mAP"] for r in rows}
    stats = {}
    for name in names:
        maps = [r["mAP"] for r in rows if r["row"] == name and r["mAP"] is not None]
        failed = sum(1 for r in rows if r["row"] == name and r["mAP"] is None)
        mean = statistics.fmean(maps) if maps else None
        std = statistics.stdev(maps) if len(maps) > 1 else 0.0 if maps else None
        stats[name] = {"row": name, "mean_mAP": mean, "std_mAP": std, "n": len(maps), "failed": failed,
                       "seconds": statistics.fmean([r["seconds"] for r in rows if r["row"] == name])}  # fmt: skip
    seeds = sorted({r["seed"] for r in rows})
    for s in stats.values():
        s["vs_baseline"] = s["se_paired"] = None
        if s["row"] == baseline:
            s["verdict"] = "baseline"
            continue
        diffs = [by_seed[s["row"], k] - by_seed[baseline, k] for k in seeds
                 if by_seed.get((s["row"], k)) is not None and by_seed.get((baseline, k)) is not None]
        if not diffs:
            s["verdict"] = "-"
            continue
        paired = paired_difference(diffs, [0.0] * len(diffs))
        s["vs_baseline"] = paired["mean"]
        if len(diffs) < 2:  # no spread to compare the gap with
            s["verdict"] = "one seed: no spread"
            continue
        s["se_paired"] = paired["se"]
        gap = s["vs_baseline"]
        s["verdict"] = "within noise" if abs(gap) <= 2 * s["se_paired"] else ("better" if gap > 0 else "worse")
    return list(stats.values())


def main(argv: list[str] | None = None) -> int:
    """Train every row with every seed; print and write the tables."""
    args = _parse_args(argv)
    from detectors_adapter.fitness import MMDetFitnessAdapter
    from gp_autoloss.errors import GpAutolossError

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for detector in args.detectors:
        combos = list(TABLES[detector])
        demo = demo_combo(Path(args.demo_run), detector)
        if demo is not None:
            combos.append(demo)
        if args.rows:
            combos = [c for c in combos if c.name in args.rows]
        from detectors_adapter.detectors import get_detector

        epochs = args.epochs or EPOCHS[detector]
        settings = {"epochs": epochs} if epochs else {}
        try:
            adapter = MMDetFitnessAdapter(get_detector(detector).cls_space, detector=detector,
                                          data_root=args.data_root, generate_data=True, threads=1,
                                          device=args.device, time_limit=args.time_limit, **settings)  # fmt: skip
            epochs = adapter.epochs
        except GpAutolossError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        jobs = [(c, s) for c in combos for s in args.seeds]
        print(f"{detector}: {len(combos)} rows x {len(args.seeds)} seeds, {epochs} epochs on "
              f"{adapter.sizes['proxy']} images, val on {adapter.sizes['val']}")
        try:
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                rows = []
                futures = [pool.submit(_train_one, adapter, detector, combo, seed) for combo, seed in jobs]
                for future in futures:
                    row = future.result()
                    rows.append(row)
                    shown = "failed: " + row["error"] if row["mAP"] is None else f"mAP {row['mAP']:.4f}"
                    print(f"  {row['row']:40} seed {row['seed']}  {shown}  ({row['seconds']} s)", flush=True)
        finally:
            adapter.close()
        table = summarize(rows, BASELINE[detector])
        _print_table(detector, table)
        with open(out / f"loss_table_{detector}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
        payload = {"detector": detector, "epochs": epochs, "seeds": args.seeds, "sizes": adapter.sizes,
                   "baseline": BASELINE[detector], "table": table, "trainings": rows,
                   "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "jobs": args.jobs,
                               "device": args.device, "date": time.strftime("%Y-%m-%d %H:%M")}}  # fmt: skip
        (out / f"loss_table_{detector}.json").write_text(json.dumps(payload), encoding="utf-8")
        print(f"wrote {out / f'loss_table_{detector}.csv'} and .json")
    return 0


def _print_table(detector: str, table: list[dict[str, Any]]) -> None:
    print(f"\n{detector}: bbox mAP on val, mean ± std over seeds")
    for s in table:
        mean = "failed" if s["mean_mAP"] is None else f"{s['mean_mAP']:.4f} ± {s['std_mAP']:.4f}"
        gap = "" if s["vs_baseline"] is None else f"{s['vs_baseline']:+.4f}"
        print(f"  {s['row']:40} {mean:>18}  n={s['n']}  {gap:>8}  {s['verdict']}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
