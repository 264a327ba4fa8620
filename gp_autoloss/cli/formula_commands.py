"""``show`` and ``render``: inspect and draw one formula."""

from __future__ import annotations

import argparse

from gp_autoloss.cli.help import registered
from gp_autoloss.cli.registry import command
from gp_autoloss.loss import parse

EXAMPLES_SHOW = """examples:
  gp-autoloss show "-dot((1 + sin(w)) * y, log(softmax(x)))" --space softmax_cls
  gp-autoloss show "add(sub(1, div(i, u)), div(sub(e, u), e))" --space iou_reg
  gp-autoloss show cse_b_cls            (a known loss by name)"""

EXAMPLES_RENDER = """examples:
  gp-autoloss render "-dot((1 + sin(w)) * y, log(softmax(x)))" --space softmax_cls -o cse_a_cls.svg
  gp-autoloss render cse_b_cls -o cse_b_cls.png"""


def add_formula_arguments(parser: argparse.ArgumentParser) -> None:
    """FORMULA and --space, shared by the commands that take one formula."""
    parser.add_argument("formula", help="infix math, DEAP prefix text, or the name of a known loss")
    parser.add_argument("--space", "-s", help=f"search space: {registered('spaces')}; optional for known loss names")


def load_formula(args: argparse.Namespace):
    """The :class:`~gp_autoloss.loss.Loss` named by ``args.formula`` / ``args.space``."""
    from gp_autoloss.errors import SpaceError
    from gp_autoloss.known import KNOWN_LOSSES

    text = args.formula.strip()
    if text in KNOWN_LOSSES and (args.space is None or args.space == KNOWN_LOSSES[text].space):
        return KNOWN_LOSSES[text].load()
    if args.space is None:
        raise SpaceError("--space is required for a formula that is not a known loss name")
    return parse(text, args.space)


def _configure_show(p: argparse.ArgumentParser) -> None:
    add_formula_arguments(p)


@command("show", "print a formula's canonical infix, prefix form, type and size", _configure_show,
         epilog=EXAMPLES_SHOW)
def run_show(args: argparse.Namespace) -> int:
    loss = load_formula(args)
    dag = loss.to_networkx()
    print(f"space:  {loss.space.name}")
    print(f"infix:  {loss.infix}")
    print(f"prefix: {loss.to_prefix()}")
    print(f"type:   {loss.output_type.__name__}")
    print(f"size:   {loss.size} nodes, depth {loss.depth}, {dag.number_of_nodes() - 1} DAG nodes")
    return 0


def _configure_render(p: argparse.ArgumentParser) -> None:
    add_formula_arguments(p)
    p.add_argument("-o", "--output", required=True, help="output file: .svg, .png, .pdf or .dot")
    p.add_argument("--title", help="title above the drawing (default: the formula)")


@command("render", "draw a formula's DAG (Figure 1 style) with graphviz", _configure_render,
         epilog=EXAMPLES_RENDER)
def run_render(args: argparse.Namespace) -> int:
    from gp_autoloss.render import render_loss

    loss = load_formula(args)
    result = render_loss(loss, args.output, title=args.title)
    print(f"wrote {result.path}")
    if result.note:
        print(f"note: {result.note}")
    return 0
