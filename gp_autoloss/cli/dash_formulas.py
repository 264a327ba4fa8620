"""Formulas that start with ``-`` on the command line, as users type them.

argparse reads ``gp-autoloss show "-dot(y,log(softmax(x)))"`` as an unknown option (and ``"-sin(w) * y"`` as
``-s in(w) * y``). Before parsing, :func:`protect_formulas` moves such a formula behind ``--`` (the positional
``FORMULA`` of ``show``, ``check``, ``render``) or glues it to its option (``--initial=-dot(...)``). A token
is left alone when it is one of the command's options, an abbreviation of one, or a short option with a plain
attached value (``-ssoftmax_cls``); formulas have parentheses, operators or names that are no option.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

__all__ = ["protect_formulas", "FORMULA_DESTS"]

#: argument destinations that hold a formula
FORMULA_DESTS = ("formula", "initial_formula")
_PLAIN_VALUE = re.compile(r"[\w./:=+-]*")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _option(token: str, options: dict[str, argparse.Action]) -> argparse.Action | None:
    """The option ``token`` names (exactly, abbreviated, ``--opt=value`` or ``-oVALUE``), or ``None``."""
    if token in options:
        return options[token]
    if token.startswith("--"):
        name = token.split("=", 1)[0]
        if name in options:
            return options[name]
        matches = {options[o] for o in options if o.startswith("--") and o.startswith(name)}
        return next(iter(matches)) if len(matches) == 1 else None
    short = options.get(token[:2])
    if short is not None and _PLAIN_VALUE.fullmatch(token[2:]):
        return short
    return None


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs is None or (isinstance(action.nargs, int) and action.nargs > 0)


def protect_formulas(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` rewritten so that a formula starting with ``-`` reaches its argument (see the module docstring)."""
    args = list(argv)
    subparsers = _subparsers(parser)
    start = next((k for k, tok in enumerate(args) if tok in subparsers), None)
    if start is None or "--" in args[start + 1:]:
        return args
    sub = subparsers[args[start]]
    options = {s: a for a in sub._actions for s in a.option_strings}  # noqa: SLF001
    wants_formula = any(a.dest in FORMULA_DESTS and not a.option_strings for a in sub._actions)  # noqa: SLF001
    out, moved = args[: start + 1], []
    pending: argparse.Action | None = None  # an option still waiting for its value
    for token in args[start + 1:]:
        if pending is not None:
            if token.startswith("-") and pending.dest in FORMULA_DESTS and _option(token, options) is None \
                    and out[-1].startswith("--"):  # fmt: skip
                out[-1] = f"{out[-1]}={token}"
            else:
                out.append(token)
            pending = None
            continue
        if token.startswith("-") and len(token) > 1:
            action = _option(token, options)
            if action is None and wants_formula and not moved:
                moved.append(token)
                continue
            attached = "=" in token if token.startswith("--") else len(token) > 2 and token not in options
            if action is not None and _takes_value(action) and not attached:
                pending = action
        out.append(token)
    return out + ["--", *moved] if moved else out
