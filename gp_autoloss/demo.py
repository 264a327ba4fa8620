"""The main job behind ``make demo``.

1. Shows and renders the paper's losses (Figure 1 style) into ``demo_out/``.
2. Runs a CSE-Autoloss search: with real tiny MMDetection detectors on the generated synthetic COCO
   dataset when the detection extras are installed (``--adapter mmdet``), else with the built-in ``toy``
   adapter; then prints and renders the best loss against the initial loss.

``python -m gp_autoloss.demo --help`` lists the knobs; the defaults fit a 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from gp_autoloss.cli.main import main as cli_main
from gp_autoloss.known import KNOWN_LOSSES
from gp_autoloss.render import render_loss

PAPER_LOSSES = ("ce", "cei", "cse_a_cls", "cse_a_reg", "fli", "cse_b_cls", "cse_b_reg", "giou")


def _render_known(out: Path) -> None:
    print("== the paper's losses ==")
    for name in PAPER_LOSSES:
        loss = KNOWN_LOSSES[name].load()
        result = render_loss(loss, out / f"{name}.svg", title=f"{name}: {loss.infix}")
        print(f"{name:>10} [{loss.space.name}] {loss.infix}\n{'':>10} -> {result.path} ({result.engine})")


def _mmdet_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("mmdet", "mmcv", "mmengine"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gp_autoloss.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--adapter", choices=("auto", "toy", "mmdet"), default="auto",
                        help="fitness adapter; auto: mmdet when installed (default)")
    parser.add_argument("--fresh", action="store_true", help="delete an earlier demo search instead of resuming it")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _render_known(out)

    adapter = args.adapter
    if adapter == "auto":
        adapter = "mmdet" if _mmdet_available() and importlib.util.find_spec("detectors_adapter.fitness") else "toy"
    if adapter == "mmdet":
        from detectors_adapter.demo import run_demo_search  # noqa: PLC0415  (needs mmdet)

        return run_demo_search(out, fresh=args.fresh)
    run_dir = out / "search_toy_cse"
    if args.fresh and run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    print("\n== CSE-Autoloss search, softmax_cls branch, toy adapter ==")
    search = ["search", "--space", "softmax_cls", "--strategy", "cse", "--adapter", "toy", "--generations", "4",
              "--population", "60", "--top-k", "5", "--parents", "5", "--seed", "0", "--out", str(run_dir)]
    if (run_dir / "run.sqlite").exists():
        search = ["search", "--out", str(run_dir), "--resume"]
    rc = cli_main(search)
    if rc != 0:
        return rc
    rc = cli_main(["report", str(run_dir), "--top", "5"])
    if rc == 0:
        from gp_autoloss.reporting import load_run

        best = load_run(run_dir).best
        if best is not None:
            from gp_autoloss import parse

            render_loss(parse(best["prefix"], "softmax_cls"), out / "best_toy.svg", title=f"best: {best['formula']}")
            print(f"rendered the best loss to {out / 'best_toy.svg'}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
