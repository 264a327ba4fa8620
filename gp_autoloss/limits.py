"""The one depth limit that the formula parser, :class:`~gp_autoloss.loss.Loss` and the search options share.

Every tree that is accepted anywhere prints to text that parses back and compiles without reaching Python's
recursion limit.
"""

from __future__ import annotations

__all__ = ["MAX_NESTING", "MAX_DEPTH", "check_depth"]

#: how deep the formula parser may recurse (parentheses, operands, arguments) -- guards the Python stack
MAX_NESTING = 200
#: the deepest tree accepted, in DEAP's height (a single terminal has depth 0). Canonical infix costs the
#: parser at most two nesting levels per tree level (an operator and its parentheses).
MAX_DEPTH = MAX_NESTING // 2 - 1


def check_depth(depth: int, what: str = "tree") -> None:
    """Raise :class:`~gp_autoloss.errors.FormulaError` if ``depth`` exceeds :data:`MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        from gp_autoloss.errors import FormulaError

        raise FormulaError(f"{what} of depth {depth} is deeper than the limit of {MAX_DEPTH}")
