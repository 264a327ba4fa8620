"""GPU smoke check: ``GPLoss`` costs at most 2% per training iteration on the paper's R50-FPN detectors, and a
short search with real mmdet detectors runs on CUDA (through the Ray executor when ray is installed).

    python -m benchmarks.gpu_smoke                     # on a machine with a CUDA GPU
    python -m benchmarks.gpu_smoke --iters 40 --detectors faster_rcnn_r50

Without CUDA it prints that it is skipped, writes ``{"skipped": ...}`` and exits 0.

1. ``benchmarks.train_overhead`` on ``--device cuda`` for ``faster_rcnn_r50`` and ``fcos_r50`` (mmdet's own
   R50-FPN COCO configs, fed synthetic shapes resized by their pipelines to 1333x800): paired, interleaved
   iterations of the native head + loss, gp-autoloss's head + ``GPLoss`` of the same formulas, and
   gp-autoloss's head with the native loss. Target: median paired ratio gp / native <= 1.02.
2. ``gp-autoloss search`` with the ``mmdet`` adapter (``fcos_r50`` on ``device=cuda``, 1 generation, 4
   candidates, K = 2), on Ray with one GPU per evaluation if ray is installed, else on the local executor.

Writes ``benchmarks/results/gpu_smoke.json`` (and ``gpu_train_overhead.csv/json`` from step 1).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch

TARGET_RATIO = 1.02


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_smoke", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--detectors", nargs="+", default=["faster_rcnn_r50", "fcos_r50"])
    parser.add_argument("--iters", type=int, default=30, help="timed iterations per variant (default 30)")
    parser.add_argument("--batch-size", type=int, default=2, help="images per iteration (default 2, mmdet's)")
    parser.add_argument("--search-detector", default="fcos_r50", help="detector of the short search")
    parser.add_argument("--no-search", action="store_true", help="only the per-iteration overhead")
    parser.add_argument("--out-dir", default="benchmarks/results")
    return parser.parse_args(argv)


def _short_search(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    executor = ["--executor", "ray", "--ray-num-gpus", "1", "--ray-num-cpus", "2"] if find_spec("ray") else []
    cmd = [sys.executable, "-m", "gp_autoloss.cli.main", "search", "--space", "sigmoid_cls", "--strategy", "cse",
           "--adapter", "mmdet", "--detector", args.search_detector, "--adapter-option", "device=cuda",
           "--adapter-option", f"data_root={work / 'shapes'}", "--adapter-option", "generate_data=true",
           "--adapter-option", "epochs=1", "--adapter-option", "verify_epochs=2", "--generations", "1",
           "--population", "4", "--top-k", "2", "--parents", "2", "--seed", "0", "--time-limit", "900",
           *executor, "-q", "--out", str(work / "run")]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"command": " ".join(cmd[2:]), "returncode": proc.returncode,
                              "seconds": round(seconds, 1), "executor": "ray" if executor else "local"}  # fmt: skip
    if proc.returncode != 0:
        result["stderr_tail"] = proc.stderr[-2000:]
        return result
    from gp_autoloss.reporting import load_run

    run = load_run(work / "run")
    result["proxy_evaluated"] = sum(1 for c in run.candidates if c.get("proxy_ok") is not None)
    result["best"] = None if run.best is None else {"formula": run.best["formula"], "mAP": run.best["proxy_metric"]}
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the smoke check; 0 when skipped or when every target is met, 1 otherwise."""
    args = _parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                              "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
    if not torch.cuda.is_available():
        print("gpu_smoke: skipped (torch sees no CUDA device)")
        report["skipped"] = "no CUDA device"
        (out / "gpu_smoke.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        return 0
    report["gpu"] = torch.cuda.get_device_name(0)
    from benchmarks import train_overhead

    rc = train_overhead.main(["--device", "cuda", "--detectors", *args.detectors, "--iters", str(args.iters),
                              "--batch-size", str(args.batch_size), "--out-dir", str(out),
                              "--out-name", "gpu_train_overhead"])  # fmt: skip
    if rc != 0:
        return rc
    rows = json.loads((out / "gpu_train_overhead.json").read_text())["summary"]
    report["overhead"] = {r["detector"]: r["ratio"] for r in rows if r["variant"] == "gp"}
    ok = all(ratio <= TARGET_RATIO for ratio in report["overhead"].values())
    for det, ratio in report["overhead"].items():
        print(f"{det}: GPLoss / native per iteration = {ratio:.3f} "
              f"({'meets' if ratio <= TARGET_RATIO else 'misses'} the {TARGET_RATIO} target)")
    if not args.no_search:
        with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as tmp:
            report["search"] = _short_search(args, Path(tmp))
        search = report["search"]
        ok = ok and search["returncode"] == 0 and bool(search.get("best"))
        print(f"short search ({search['executor']} executor): exit {search['returncode']} in {search['seconds']} s, "
              f"best {search.get('best')}")
    (out / "gpu_smoke.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out / 'gpu_smoke.json'}")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
