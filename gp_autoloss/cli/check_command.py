"""``check``: run the cheap checks (validness, convergence properties) on one formula."""

from __future__ import annotations

import argparse
import json

from gp_autoloss.cli.formula_commands import add_formula_arguments, load_formula
from gp_autoloss.cli.registry import command

EXIT_PASS = 0
EXIT_FAIL = 1

EXAMPLES = """exit status: 0 the loss passes every check, 1 it fails one (the reason is printed), 2 bad input.

examples:
  gp-autoloss check "-dot(w * y, log(softmax(x)))" --space softmax_cls
  gp-autoloss check "i / u" --space iou_reg            (fails: the loss falls as the boxes move apart)
  gp-autoloss check cse_b_reg --json                   (a known loss by name)"""


def _configure(p: argparse.ArgumentParser) -> None:
    add_formula_arguments(p)
    p.add_argument("--json", action="store_true", help="print the verdict as one JSON object")


@command("check", "check a formula's validness and convergence properties (paper §3.2)", _configure,
         epilog=EXAMPLES)
def run_check(args: argparse.Namespace) -> int:
    from gp_autoloss.checks import check

    loss = load_formula(args)
    verdict = check(loss)
    if args.json:
        print(json.dumps({"formula": loss.infix, "space": loss.space.name, **verdict.to_dict()}))
    else:
        print(f"formula: {loss.infix}  [{loss.space.name}]")
        for result in verdict.results:
            status = "pass" if result.passed else "FAIL"
            note = f": {result.reason}" if result.reason else ""
            if result.details.get("checked") is False:  # the space has no such check: say so, not "pass"
                status, note = result.reason, ""
            print(f"  {result.name:12s} {status}{note}")
        if verdict.convergence is None:
            print("  convergence  not run (the loss is not valid)")
        print("PASS" if verdict.passed else f"FAIL ({verdict.failed_check})")
    return EXIT_PASS if verdict.passed else EXIT_FAIL
