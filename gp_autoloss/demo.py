"""The core demo: the paper's losses and a CSE-Autoloss search with the built-in ``toy`` adapter.

1. Shows and renders the paper's losses (Figure 1 style) into ``demo_out/``.
2. Runs a CSE-Autoloss search with the ``toy`` adapter, then prints and renders the best loss.

``make demo`` runs ``python -m detectors_adapter.demo``, which does step 1 here and runs its search with real
tiny MMDetection detectors when the detection extras are installed (else step 2 here). This module needs
only the core dependencies. ``python -m gp_autoloss.demo --help`` lists the knobs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gp_autoloss.cli.main import main as cli_main
from gp_autoloss.known import KNOWN_LOSSES
from gp_autoloss.render import render_loss

PAPER_LOSSES = ("ce", "cei", "cse_a_cls", "cse_a_reg", "fli", "cse_b_cls", "cse_b_reg", "giou")


def render_known(out: Path) -> None:
    """Print and render the paper's losses into ``out``."""
    print("== the paper's losses ==")
    for name in PAPER_LOSSES:
        loss = KNOWN_LOSSES[name].load()
        result = render_loss(loss, out / f"{name}.svg", title=f"{name}: {loss.infix}")
        print(f"{name:>10} [{loss.space.name}] {loss.infix}\n{'':>10} -> {result.path} ({result.engine})")


def run_toy_search(out: Path, fresh: bool = False) -> int:
    """Run (or resume) the toy CSE search into ``out/search_toy_cse``, report it, render its best loss."""
    run_dir = out / "search_toy_cse"
    if fresh and run_dir.exists():
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gp_autoloss.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--fresh", action="store_true", help="delete an earlier demo search instead of resuming it")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    render_known(out)
    return run_toy_search(out, fresh=args.fresh)


if __name__ == "__main__":
    sys.exit(main())
