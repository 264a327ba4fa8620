"""Random typed trees that never hit DEAP's typed-generation ``IndexError``.

DEAP's ``genGrow``/``genFull`` raise ``IndexError`` when they ask for a primitive or terminal of a type
that has none. This generator follows DEAP's grow/full scheme but falls back to whatever kind of node
the type has, and retries until the tree fits the size limit.
"""

from __future__ import annotations

import random

from deap import gp

from gp_autoloss.errors import SpaceError
from gp_autoloss.loss import Loss, resolve_space
from primitives import SearchSpace

__all__ = ["random_tree", "random_loss", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_SIZE"]

DEFAULT_MAX_DEPTH = 8
DEFAULT_MAX_SIZE = 40
_DEPTH_SLACK = 12  # how far past max_depth a type without terminals may push generation


def _generate(pset: gp.PrimitiveSetTyped, rng: random.Random, height: int, min_depth: int, full: bool, ret: type) -> list:
    terminal_ratio = pset.terms_count / float(pset.terms_count + pset.prims_count)
    expr: list = []
    stack = [(0, ret)]
    while stack:
        depth, type_ = stack.pop()
        prims = pset.primitives.get(type_, [])
        terms = pset.terminals.get(type_, [])
        if not prims and not terms:
            raise SpaceError(f"space {pset.name!r} has no way to make a value of type {type_.__name__}")
        if full:
            want_terminal = depth >= height
        else:
            want_terminal = depth >= height or (depth >= min_depth and rng.random() < terminal_ratio)
        if depth > height + _DEPTH_SLACK and not terms:
            raise SpaceError(f"space {pset.name!r}: type {type_.__name__} has no terminals to end a tree")
        if (want_terminal and terms) or not prims:
            expr.append(rng.choice(terms))
        else:
            prim = rng.choice(prims)
            expr.append(prim)
            for arg in reversed(prim.args):
                stack.append((depth + 1, arg))
    return expr


def random_tree(
    space: str | SearchSpace,
    rng: random.Random,
    *,
    min_depth: int = 1,
    max_depth: int = 6,
    max_size: int = DEFAULT_MAX_SIZE,
    method: str = "half",
    tries: int = 100,
) -> gp.PrimitiveTree:
    """A random well-typed tree of ``space`` (grow, full, or half-and-half) within the limits.

    Falls back to a terminal of the output type if ``tries`` attempts all exceed ``max_size``.
    """
    sp = resolve_space(space)
    if not 0 <= min_depth <= max_depth:
        raise ValueError("need 0 <= min_depth <= max_depth")
    pset = sp.pset
    for _ in range(tries):
        height = rng.randint(min_depth, max_depth)
        full = rng.random() < 0.5 if method == "half" else method == "full"
        expr = _generate(pset, rng, height, min_depth, full, pset.ret)
        if len(expr) <= max_size:
            return gp.PrimitiveTree(expr)
    terms = pset.terminals.get(pset.ret, [])
    if not terms:
        raise SpaceError(f"space {sp.name!r}: no tree within size {max_size}")
    return gp.PrimitiveTree([rng.choice(terms)])


def random_loss(space: str | SearchSpace, rng: random.Random, **limits: int | str) -> Loss:
    """A random :class:`Loss` of ``space``; see :func:`random_tree` for the limits."""
    sp = resolve_space(space)
    return Loss(random_tree(sp, rng, **limits), sp)  # type: ignore[arg-type]
