"""Pretrain a tiny detector's backbone and neck on synthetic shapes: the CPU analog of ImageNet initialisation.

    python -m detectors_adapter.pretrain --detector fcos_tiny          # rebuilds the shipped checkpoint

The paper's proxy starts from an ImageNet-pretrained ResNet-50: a detector that already works, whose AP
differences between losses stand well above its seed noise. Trained from scratch for a minute, the tiny CPU
detectors sit near the noise floor instead. This script trains the whole detector with its native losses on
a pretraining set that no proxy, val or D_verify split uses (the synthetic generator under its own seed,
:data:`PRETRAIN_DATA_SEED`), then keeps only the ``backbone.`` and ``neck.`` tensors as a plain state dict
(torch ``weights_only`` loading reads it) and records its SHA-256 in ``checkpoints/manifest.json``. Every
proxy and D_verify training then starts from it (adapter option ``pretrained``), with a new head.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from detectors_adapter.pretrained_weights import CHECKPOINT_DIR, MANIFEST, PRETRAIN_DATA_SEED, PRETRAINED, sha256
from gp_autoloss.errors import GpAutolossError

__all__ = ["main", "pretrain"]


def pretrain(detector: str, out: Path, data_root: Path, images: int, val_images: int, epochs: int, seed: int,
             threads: int) -> dict[str, Any]:
    """Generate the pretraining set (if missing), train, test, save backbone + neck; returns a summary."""
    import torch
    from mmengine.runner import Runner

    from detectors_adapter.build_config import build_config
    from detectors_adapter.data.coco import category_names, load_coco
    from detectors_adapter.data.synthetic import ensure_dataset
    from detectors_adapter.spec import TrainSpec
    from detectors_adapter.train_one import _skip_yapf

    torch.set_num_threads(threads)
    _skip_yapf()
    paths = ensure_dataset(data_root, n_train=images, n_val=val_images, seed=PRETRAIN_DATA_SEED)
    if len(load_coco(paths["train"])["images"]) != images:
        raise GpAutolossError(f"{data_root} holds another pretraining set: remove it first")
    with tempfile.TemporaryDirectory(prefix="gp-autoloss-pretrain-") as work:
        from detectors_adapter.detectors import get_detector

        spec = TrainSpec(detector=detector, space=get_detector(detector).cls_space, formula=None,
                         train_ann=str(paths["train"].resolve()), train_images=str(paths["train_images"].resolve()),
                         test_ann=str(paths["val"].resolve()), test_images=str(paths["val_images"].resolve()),
                         classes=list(category_names(load_coco(paths["train"]))), epochs=epochs, work_dir=work,
                         result=str(Path(work) / "result.json"), seed=seed, threads=threads, train_size=images)
        runner = Runner.from_cfg(build_config(spec))
        start = time.perf_counter()
        runner.train()
        seconds = time.perf_counter() - start
        metrics = runner.test() or {}
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                 if k.startswith(PRETRAINED[detector].prefixes)}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, str(out))
    return {"detector": detector, "file": out.name, "sha256": sha256(out), "tensors": len(state),
            "images": images, "epochs": epochs, "seed": seed, "data_seed": PRETRAIN_DATA_SEED,
            "train_seconds": round(seconds, 1), "threads": threads,
            "pretrain_val_mAP": float(metrics.get("coco/bbox_mAP", 0.0))}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m detectors_adapter.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", choices=sorted({s.pretrained_by for s in PRETRAINED.values()}),
                        default="fcos_tiny", help="the detector trained to make the checkpoint (default fcos_tiny)")
    parser.add_argument("--out", default=None, help="checkpoint file (default: the shipped one, manifest updated)")
    parser.add_argument("--data-root", default="data/shapes-pretrain", help="pretraining set (generated if missing)")
    parser.add_argument("--images", type=int, default=2000, help="pretraining images (default 2000)")
    parser.add_argument("--val-images", type=int, default=200, help="its own val images (default 200)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args(argv)
    shipped = args.out is None
    out = CHECKPOINT_DIR / PRETRAINED[args.detector].file if shipped else Path(args.out)
    try:
        summary = pretrain(args.detector, out, Path(args.data_root), args.images, args.val_images, args.epochs,
                           args.seed, args.threads)
    except GpAutolossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if shipped:
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.is_file() else {}
        manifest[out.name] = summary
        MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
