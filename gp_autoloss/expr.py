"""Typed expression trees: the bridge between DEAP's flat ``PrimitiveTree`` and everything else.

An :class:`Expr` is an immutable typed node (a primitive overload with children, an input, or a
constant). Its :attr:`Expr.key` -- the canonical prefix text -- identifies equal subexpressions, which
is what the torch compiler and the DAG renderer merge.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from deap import gp

from primitives import Overload, Scalar, SearchSpace, ValueType

__all__ = ["Expr", "expr_from_tree", "tree_from_expr", "format_constant", "constant_terminal"]

TypeTag = type[ValueType]


def format_constant(value: float) -> str:
    """Canonical text of a constant, which the formula parser reads back to the same float: ``2`` rather than
    ``2.0``, ``0.25``, ``1e+20`` (exponent form from 1e16 on, where integers stop being exact)."""
    f = float(value)
    return str(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)


def constant_terminal(space: SearchSpace, value: float) -> gp.Terminal:
    """The DEAP terminal of a constant: the space's own one if it has it, else a new ``Scalar`` terminal.

    The search only generates the space's constants; a formula a user writes may hold any finite number,
    and DEAP's operators handle such a terminal like any other (mutation replaces it by one of the space's).
    """
    text = format_constant(value)
    node = space.pset.mapping.get(text)
    if isinstance(node, gp.Terminal) and not isinstance(node.value, str):
        return node
    return gp.Terminal(float(value), False, Scalar)


@dataclass(frozen=True, eq=False)
class Expr:
    """A typed expression node.

    Attributes:
        kind: ``"primitive"``, ``"input"`` or ``"constant"``.
        name: primitive name (``add``), input name (``x``) or constant text (``2``).
        type: the node's value type.
        children: argument expressions (primitives only).
        overload: the resolved primitive overload (primitives only).
        value: the constant's value (constants only).
    """

    kind: str
    name: str
    type: TypeTag
    children: tuple[Expr, ...] = field(default=())
    overload: Overload | None = None
    value: float | None = None

    @cached_property
    def key(self) -> str:
        """Canonical prefix text of this subexpression; equal keys mean equal subexpressions."""
        if not self.children:
            return self.name
        return f"{self.name}({', '.join(c.key for c in self.children)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def is_terminal(self) -> bool:
        return self.kind != "primitive"

    def walk(self) -> Iterator[Expr]:
        """All nodes in prefix order (DEAP's order)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @cached_property
    def size(self) -> int:
        """Number of nodes of the tree (shared subexpressions counted each time)."""
        return 1 + sum(c.size for c in self.children)

    @cached_property
    def depth(self) -> int:
        """Height of the tree: 0 for a terminal."""
        return 1 + max(c.depth for c in self.children) if self.children else 0


def expr_from_tree(space: SearchSpace, tree: gp.PrimitiveTree) -> Expr:
    """Rebuild the typed :class:`Expr` of a DEAP tree made over ``space.pset``."""
    inputs = space.input_map
    built: list[Expr] = []
    # Walk backwards: every node's children are already built when it is reached.
    for node in reversed(tree):
        if isinstance(node, gp.Primitive):
            ov = space.overloads.get(node.name)
            if ov is None:
                raise ValueError(f"primitive {node.name!r} is not in space {space.name!r}")
            args = tuple(built.pop() for _ in range(node.arity))
            built.append(Expr("primitive", ov.primitive.name, ov.signature.result, args, ov))
        elif isinstance(node.value, str):
            # DEAP keeps an argument's original name ("ARG0") in .name; the renamed one is its value.
            if node.value not in inputs:
                raise ValueError(f"input {node.value!r} is not in space {space.name!r}")
            built.append(Expr("input", node.value, inputs[node.value].type))
        else:
            value = float(node.value)
            if not math.isfinite(value):
                raise ValueError(f"constant {node.value!r} is not a finite number")
            built.append(Expr("constant", format_constant(value), node.ret, value=value))
    if len(built) != 1:
        raise ValueError("malformed tree: it does not describe exactly one expression")
    return built[0]


def tree_from_expr(space: SearchSpace, expr: Expr) -> gp.PrimitiveTree:
    """The DEAP ``PrimitiveTree`` (over ``space.pset``) of a typed expression."""
    mapping = space.pset.mapping
    nodes = []
    for node in expr.walk():
        if node.kind == "primitive":
            assert node.overload is not None
            nodes.append(mapping[node.overload.deap_name])
        elif node.kind == "constant":
            nodes.append(constant_terminal(space, float(node.value)))  # type: ignore[arg-type]
        else:
            nodes.append(mapping[node.name])
    return gp.PrimitiveTree(nodes)
