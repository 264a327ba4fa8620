"""The :class:`Loss` object: a typed DEAP tree in a search space, with its text forms and compilers."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from deap import gp

from gp_autoloss.compile import CompiledLoss
from gp_autoloss.errors import SpaceError
from gp_autoloss.expr import Expr, expr_from_tree, tree_from_expr
from gp_autoloss.formula import parse_syntax, resolve, to_infix, to_prefix
from gp_autoloss.limits import check_depth
from primitives import SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    import torch

__all__ = ["Loss", "parse", "resolve_space"]


def resolve_space(space: str | SearchSpace) -> SearchSpace:
    """A registered space, or :class:`SpaceError` naming the known ones."""
    try:
        return get_space(space)
    except KeyError as exc:
        raise SpaceError(
            f"{exc.args[0]}; is it defined by a plugin? pass --plugin MODULE or install the plugin's package"
        ) from None


class Loss:
    """A loss function: a DEAP ``PrimitiveTree`` over a space's typed primitive set.

    ``str(loss)`` is canonical infix text that parses back to the same tree; ``to_prefix()`` is DEAP's
    form. Two losses are equal when their space and prefix text are.
    """

    def __init__(self, tree: gp.PrimitiveTree, space: str | SearchSpace) -> None:
        self.space = resolve_space(space)
        check_depth(tree.height)  # iterative; deeper trees would overflow the printers and the compiler
        self.tree = tree

    @classmethod
    def from_expr(cls, expr: Expr, space: str | SearchSpace) -> Loss:
        """Wrap a typed expression."""
        sp = resolve_space(space)
        loss = cls(tree_from_expr(sp, expr), sp)
        loss.__dict__["expr"] = expr
        return loss

    @cached_property
    def expr(self) -> Expr:
        """The typed expression tree."""
        return expr_from_tree(self.space, self.tree)

    # ---- text -----------------------------------------------------------------------------------------
    def __str__(self) -> str:
        return self.infix

    @cached_property
    def infix(self) -> str:
        """Canonical infix math."""
        return to_infix(self.expr)

    def to_prefix(self) -> str:
        """DEAP's prefix form, e.g. ``neg(dot(y, log(softmax(x))))``."""
        return to_prefix(self.expr)

    @property
    def key(self) -> str:
        """Identity of the loss: ``space:prefix``."""
        return f"{self.space.name}:{self.to_prefix()}"

    def __repr__(self) -> str:
        return f"Loss({self.infix!r}, space={self.space.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loss) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    # ---- shape ----------------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of tree nodes."""
        return len(self.tree)

    @property
    def depth(self) -> int:
        """Tree height (0 for a single terminal)."""
        return self.tree.height

    @property
    def output_type(self) -> type:
        """Value type of the loss (the space's output type)."""
        return self.expr.type

    # ---- compilers --------------------------------------------------------------------------------------
    def to_torch(self) -> CompiledLoss:
        """A ``torch.nn.Module`` computing the unreduced loss from keyword tensor inputs."""
        return CompiledLoss(self.space, self.expr, self.infix)

    @cached_property
    def _module(self) -> CompiledLoss:
        return self.to_torch()

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        """Evaluate the unreduced loss (a cached compiled module)."""
        return self._module(**inputs)

    def to_networkx(self) -> nx.DiGraph:
        """The loss as a DAG: shared subexpressions merged, inputs/constants sources, the loss the sink."""
        from gp_autoloss.render.dag import loss_dag

        return loss_dag(self)


def parse(text: str, space: str | SearchSpace) -> Loss:
    """Parse infix math or DEAP prefix text into a type-checked :class:`Loss` of ``space``.

    >>> str(parse("neg(dot(y, log(softmax(x))))", "softmax_cls"))
    '-dot(y, log(softmax(x)))'

    Raises a :class:`~gp_autoloss.errors.FormulaError` subclass naming the problem and its column.
    """
    sp = resolve_space(space)
    expr = resolve(parse_syntax(text), sp, text)
    return Loss.from_expr(expr, sp)
