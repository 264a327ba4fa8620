"""Print typed expressions as canonical infix math or DEAP prefix text.

The infix printer uses as few parentheses as round-tripping allows: ``parse(str(loss))`` gives back the
same tree. Unary minus is parenthesized as an operand of a binary operator (``2 * (-x)``) so that a
reader never has to know its precedence.
"""

from __future__ import annotations

from gp_autoloss.expr import Expr

__all__ = ["to_infix", "to_prefix"]

_ATOM = 100


def to_prefix(expr: Expr) -> str:
    """DEAP's prefix form with the primitives' formula names: ``neg(dot(y, log(softmax(x))))``."""
    return expr.key


def _precedence(expr: Expr) -> int:
    if expr.kind != "primitive":
        return _ATOM
    prim = expr.overload.primitive  # type: ignore[union-attr]
    return prim.precedence if prim.infix is not None else _ATOM


def to_infix(expr: Expr) -> str:
    """Canonical infix text: ``-dot((1 + sin(w)) * y, log(softmax(x)))``."""
    if expr.kind != "primitive":
        return expr.name
    prim = expr.overload.primitive  # type: ignore[union-attr]
    if prim.infix is None:
        return f"{prim.name}({', '.join(to_infix(c) for c in expr.children)})"
    if prim.arity == 1:
        (child,) = expr.children
        inner = to_infix(child)
        return f"{prim.infix}{inner}" if _precedence(child) == _ATOM else f"{prim.infix}({inner})"
    left, right = expr.children
    p = prim.precedence
    ltxt, rtxt = to_infix(left), to_infix(right)
    if _needs_parens(left, p, is_right=False):
        ltxt = f"({ltxt})"
    if _needs_parens(right, p, is_right=True):
        rtxt = f"({rtxt})"
    return f"{ltxt} {prim.infix} {rtxt}"


def _needs_parens(child: Expr, parent_prec: int, *, is_right: bool) -> bool:
    if child.kind != "primitive":
        return False
    prim = child.overload.primitive  # type: ignore[union-attr]
    if prim.infix is None:
        return False
    if prim.arity == 1:
        return True
    return prim.precedence <= parent_prec if is_right else prim.precedence < parent_prec
