"""The main job with real detectors: a CSE-Autoloss search whose fitness is the bbox mAP of tiny mmdet FCOS.

``make demo`` runs ``python -m detectors_adapter.demo``: the paper's losses (:mod:`gp_autoloss.demo`), then,
when the detection extras are installed (else the core demo's toy search):

1. generates the synthetic shapes dataset under ``data/shapes`` if it is missing;
2. runs CSE search (Algorithm 1) over the one-stage classification branch (``sigmoid_cls``, the paper's
   CSE-Autoloss-B_cls search) from the initial loss FLI, with tiny FCOS detectors trained on CPU: every
   candidate passes validness and convergence checks, a D_verify simulation, and only the top-K are trained
   on the proxy split and scored by val bbox mAP;
3. prints the report, renders the best loss, and compares its mAP with the initial loss's on the same split.

An interrupted demo resumes where it stopped. The default size fits about 15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

from gp_autoloss.cli.main import main as cli_main

__all__ = ["DEMO_SEARCH", "main", "run_demo_search"]

#: the demo search's settings (``gp-autoloss search`` options)
DEMO_SEARCH: tuple[str, ...] = (
    "--space", "sigmoid_cls", "--strategy", "cse", "--adapter", "mmdet", "--detector", "fcos_tiny",
    "--adapter-option", "generate_data=true", "--adapter-option", "epochs=12", "--adapter-option", "verify_epochs=8",
    "--adapter-option", "threads=1", "--workers", "2",
    "--generations", "2", "--population", "24", "--top-k", "3", "--parents", "3", "--seed", "0",
    "--time-limit", "600",
)  # fmt: skip


def run_demo_search(out: Path, fresh: bool = False, data_root: str = "data/shapes") -> int:
    """Run (or resume) the demo search into ``out/search_fcos_cse``; returns the CLI exit code."""
    run_dir = out / "search_fcos_cse"
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    print("\n== CSE-Autoloss search: tiny FCOS (mmdet) on synthetic shapes, sigmoid_cls branch, from FLI ==")
    if (run_dir / "run.sqlite").exists():
        args = ["search", "--out", str(run_dir), "--resume"]
    else:
        args = ["search", *DEMO_SEARCH, "--adapter-option", f"data_root={data_root}", "--out", str(run_dir)]
    rc = cli_main(args)
    if rc != 0:
        return rc
    rc = cli_main(["report", str(run_dir), "--top", "5"])
    if rc != 0:
        return rc
    return _compare(out, run_dir)


def _compare(out: Path, run_dir: Path) -> int:
    from gp_autoloss import parse
    from gp_autoloss.render import render_loss
    from gp_autoloss.reporting import load_run

    run = load_run(run_dir)
    best, initial = run.best, run.initial
    if best is None or initial is None or not initial.get("proxy_ok"):
        print("no candidate was scored; see the report above")
        return 1
    target = out / "best_fcos_cse.svg"
    render_loss(parse(best["prefix"], "sigmoid_cls"), target, title=f"best: {best['formula']}")
    print("\n== result (val bbox mAP of tiny FCOS, same proxy split) ==")
    print(f"initial loss  {initial['formula']}\n              mAP {initial['proxy_metric']:.4f}")
    print(f"best found    {best['formula']}\n              mAP {best['proxy_metric']:.4f}"
          f"  ({best['proxy_metric'] - initial['proxy_metric']:+.4f})")
    print(f"rendered the best loss to {target}")
    return 0


def _mmdet_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("mmdet", "mmcv", "mmengine"))


def main(argv: list[str] | None = None) -> int:
    """``make demo``: the paper's losses, then the detector search (or the core's toy search without mmdet)."""
    from gp_autoloss.demo import render_known, run_toy_search

    parser = argparse.ArgumentParser(prog="python -m detectors_adapter.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--adapter", choices=("auto", "toy", "mmdet"), default="auto",
                        help="fitness adapter; auto: mmdet when installed (default)")
    parser.add_argument("--fresh", action="store_true", help="delete an earlier demo search instead of resuming it")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    render_known(out)
    adapter = ("mmdet" if _mmdet_available() else "toy") if args.adapter == "auto" else args.adapter
    if adapter == "mmdet":
        return run_demo_search(out, fresh=args.fresh)
    return run_toy_search(out, fresh=args.fresh)


if __name__ == "__main__":
    sys.exit(main())
