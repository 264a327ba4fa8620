"""Training-iteration time with ``GPLoss`` vs mmdet's native loss for the same formula, side by side.

For each tiny detector, three models with identical initial weights train on the same batches, their
iterations interleaved (the order rotates every iteration, and the RoI/anchor samplers get the same seed):

* ``native``: mmdet's stock head and losses (Faster R-CNN: ``Shared2FCBBoxHead`` + ``CrossEntropyLoss`` +
  ``GIoULoss``; FCOS: ``FCOSHead`` + ``FocalLoss`` + ``GIoULoss``);
* ``gp``: gp-autoloss's head with ``GPLoss`` of the same formulas (``ce`` / ``fl`` and ``giou``);
* ``gp_head_native_loss``: gp-autoloss's head with mmdet's losses (separates head and loss costs).

The figure of merit is ``ratio``: the median over iterations of t(variant) / t(native) of the same iteration
(paired, so load from other processes cancels); the target for ``gp`` is <= 1.05. A loss-only table times
each loss module's forward + backward on tensors of the size these heads produce.

    python -m benchmarks.train_overhead --iters 40
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

DETECTOR_VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "faster_rcnn_tiny": {
        "native": {"type": "Shared2FCBBoxHead", "loss_cls": {"type": "CrossEntropyLoss", "loss_weight": 1.0},
                   "loss_bbox": {"type": "GIoULoss", "loss_weight": 10.0}},
        "gp": {"type": "GPShared2FCBBoxHead", "loss_cls": {"type": "GPLoss", "formula": "ce"},
               "loss_bbox": {"type": "GPLoss", "formula": "giou", "loss_weight": 10.0}},
        "gp_head_native_loss": {"type": "GPShared2FCBBoxHead",
                                "loss_cls": {"type": "CrossEntropyLoss", "loss_weight": 1.0},
                                "loss_bbox": {"type": "GIoULoss", "loss_weight": 10.0}},
    },
    "fcos_tiny": {
        "native": {"type": "FCOSHead",
                   "loss_cls": {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25},
                   "loss_bbox": {"type": "GIoULoss", "loss_weight": 1.0}},
        "gp": {"type": "GPFCOSHead", "loss_cls": {"type": "GPLoss", "formula": "fl", "use_sigmoid": True},
               "loss_bbox": {"type": "GPLoss", "formula": "giou"}},
        "gp_head_native_loss": {"type": "GPFCOSHead",
                                "loss_cls": {"type": "FocalLoss", "use_sigmoid": True, "gamma": 2.0, "alpha": 0.25},
                                "loss_bbox": {"type": "GIoULoss", "loss_weight": 1.0}},
    },
}
# The paper's R50-FPN detectors get the same three variants (their heads sit where the tiny ones' do).
DETECTOR_VARIANTS["faster_rcnn_r50"] = DETECTOR_VARIANTS["faster_rcnn_tiny"]
DETECTOR_VARIANTS["fcos_r50"] = DETECTOR_VARIANTS["fcos_tiny"]
FORMULAS = {"faster_rcnn_tiny": "cls: ce, reg: giou x10", "fcos_tiny": "cls: fl (gamma 2, alpha 0.25), reg: giou"}
FORMULAS.update(faster_rcnn_r50=FORMULAS["faster_rcnn_tiny"], fcos_r50=FORMULAS["fcos_tiny"])
#: what runs when --detectors is not given (the R50 ones are for GPUs: benchmarks.gpu_smoke)
DEFAULT_DETECTORS = ["faster_rcnn_tiny", "fcos_tiny"]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_overhead", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", nargs="+", default=DEFAULT_DETECTORS, choices=list(DETECTOR_VARIANTS))
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--iters", type=int, default=30, help="timed iterations per variant (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations per variant first (default 3)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per iteration (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--data-root", default=None, help="synthetic dataset dir (default: generate 32 images)")
    parser.add_argument("--loss-repeats", type=int, default=200, help="repeats of the loss-only timing")
    parser.add_argument("--out-dir", default="benchmarks/results", help="where the CSV/JSON go")
    parser.add_argument("--out-name", default="train_overhead", help="file stem of the CSV/JSON (default %(default)s)")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.batch_size < 1 or args.threads < 1 or args.loss_repeats < 1:
        parser.error("--iters, --batch-size, --threads, --loss-repeats must be >= 1 and --warmup >= 0")
    return args


def _batches(cfg: Any, data_root: Path, batch_size: int, n: int) -> list[Any]:
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.batch_size = batch_size
    ds = loader_cfg.dataset
    ds.update(data_root=str(data_root) + "/", ann_file="annotations/train.json", data_prefix={"img": "train/"})
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    out = []
    while len(out) < n:
        for batch in loader:
            out.append(batch)
            if len(out) == n:
                break
    return out


def _models(name: str, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    from detectors_adapter.detectors import get_detector

    det = get_detector(name)
    cfg = Config.fromfile(str(det.config_path))
    models: dict[str, Any] = {}
    reference = None
    for variant, head_cfg in DETECTOR_VARIANTS[name].items():
        model_cfg = copy.deepcopy(cfg.model)
        head = model_cfg
        for key in det.head:
            head = head[key]
        for key, value in copy.deepcopy(head_cfg).items():  # replace, not merge (ConfigDict.update merges)
            head[key] = value
        if head_cfg["type"] == "FCOSHead":
            head.pop("iou_as_centerness", None)
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        if reference is None:
            model.init_weights()
            reference = model.state_dict()
        else:
            model.load_state_dict(reference)
        model.to(device)
        model.train()
        models[variant] = (model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper)))
    return cfg, models


def time_detector(name: str, data_root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved per-iteration times (seconds) of every variant of one detector."""
    cfg, models = _models(name, args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    batches = _batches(cfg, data_root, args.batch_size, 4)
    variants = list(models)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for it in range(args.warmup + args.iters):
        order = variants[it % len(variants):] + variants[: it % len(variants)]
        for variant in order:
            model, optim = models[variant]
            torch.manual_seed(1000 + it)  # same RPN/RoI sampling for every variant
            sync()
            start = time.perf_counter()
            model.train_step(batches[it % len(batches)], optim)
            sync()
            elapsed = time.perf_counter() - start
            if it >= args.warmup:
                times[variant].append(elapsed)
    return {"detector": name, "formulas": FORMULAS[name], "times": times}


def _loss_only(repeats: int) -> list[dict[str, Any]]:
    """Forward + backward of each loss module alone, GPLoss vs native, interleaved."""
    from mmdet.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss

    from detectors_adapter.models.gp_loss import GPLoss

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(512, 7, generator=gen)
    labels = torch.randint(0, 7, (512,), generator=gen)
    dense = torch.randn(2720, 6, generator=gen)
    dense_labels = torch.randint(0, 7, (2720,), generator=gen)
    xy = torch.rand(128, 2, generator=gen) * 64
    boxes = torch.cat([xy, xy + 4 + torch.rand(128, 2, generator=gen) * 40], 1)
    targets = boxes + torch.randn(128, 4, generator=gen) * 3
    targets[:, 2:] = torch.maximum(targets[:, 2:], targets[:, :2] + 1)
    cases = [
        ("ce", CrossEntropyLoss(), GPLoss("ce"), logits, labels),
        ("fl", FocalLoss(), GPLoss("fl"), dense, dense_labels),
        ("giou", GIoULoss(), GPLoss("giou"), boxes, targets),
    ]
    rows = []
    for name, native, gp, pred, target in cases:
        samples: dict[str, list[float]] = {"native": [], "gp": []}
        for k in range(repeats + 5):
            for variant, module in (("native", native), ("gp", gp))[:: 1 if k % 2 else -1]:
                p = pred.clone().requires_grad_(True)
                start = time.perf_counter()
                module(p, target, avg_factor=100.0).backward()
                if k >= 5:
                    samples[variant].append(time.perf_counter() - start)
        rows.append({"loss": name, "shape": list(pred.shape), "native_us": statistics.median(samples["native"]) * 1e6,
                     "gp_us": statistics.median(samples["gp"]) * 1e6})
    return rows


def _summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    times = result["times"]
    base = times["native"]
    rows = []
    for variant, ts in times.items():
        paired = [t / b for t, b in zip(ts, base)]
        rows.append({
            "detector": result["detector"], "variant": variant, "formulas": result["formulas"],
            "median_ms": round(statistics.median(ts) * 1e3, 2), "mean_ms": round(statistics.fmean(ts) * 1e3, 2),
            "min_ms": round(min(ts) * 1e3, 2), "ratio": round(statistics.median(paired), 4),
            "ratio_of_medians": round(statistics.median(ts) / statistics.median(base), 4), "iters": len(ts),
        })  # fmt: skip
    return rows


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables and write ``train_overhead.csv`` / ``.json``."""
    args = _parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    try:
        from mmdet.utils import register_all_modules
    except ImportError:
        print("error: this benchmark needs mmdet (make setup)", file=sys.stderr)
        return 2
    register_all_modules()
    import detectors_adapter.models  # noqa: F401
    from detectors_adapter.data.synthetic import generate_dataset

    with tempfile.TemporaryDirectory(prefix="train-overhead-") as tmp:
        data_root = Path(args.data_root) if args.data_root else Path(tmp)
        if not (data_root / "annotations" / "train.json").is_file():
            generate_dataset(data_root, n_train=32, n_val=1, seed=0)
        rows: list[dict[str, Any]] = []
        raw = []
        for name in args.detectors:
            result = time_detector(name, data_root, args)
            raw.append(result)
            rows.extend(_summarize(result))
    loss_rows = _loss_only(args.loss_repeats)

    print(f"training iteration on {args.device}, batch {args.batch_size}, {args.iters} interleaved iterations, "
          f"{args.threads} thread(s)")
    print(f"{'detector':18} {'variant':20} {'median ms':>10} {'mean ms':>9} {'ratio':>7}")
    for r in rows:
        print(f"{r['detector']:18} {r['variant']:20} {r['median_ms']:10.1f} {r['mean_ms']:9.1f} {r['ratio']:7.3f}")
    print("\nloss module alone (forward + backward, median)")
    for r in loss_rows:
        print(f"{r['loss']:6} {str(r['shape']):12} native {r['native_us']:8.1f} us   GPLoss {r['gp_us']:8.1f} us")
    for r in rows:
        if r["variant"] == "gp":
            verdict = "meets" if r["ratio"] <= 1.05 else "misses"
            print(f"{r['detector']}: GPLoss / native = {r['ratio']:.3f} ({verdict} the 1.05 target)")

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / f"{args.out_name}.csv", out / f"{args.out_name}.json"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "device": args.device, "device_name": _device_name(args.device),
            "threads": args.threads, "batch_size": args.batch_size, "iters": args.iters, "warmup": args.warmup}
    payload = {"meta": meta, "summary": rows, "loss_only": loss_rows,
               "times_ms": [{**r, "times": {k: [round(t * 1e3, 3) for t in v] for k, v in r["times"].items()}}
                            for r in raw]}
    json_path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(f"\nwrote {csv_path} and {json_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
