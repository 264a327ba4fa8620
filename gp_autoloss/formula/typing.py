"""Type-check an untyped syntax tree against a search space, resolving each primitive's overload."""

from __future__ import annotations

import difflib
import math
import re

from gp_autoloss.errors import ArityError, FormulaSyntaxError, FormulaTypeError, OutputTypeError, UnknownNameError
from gp_autoloss.expr import Expr, format_constant
from gp_autoloss.formula.syntax import SyntaxNode
from primitives import PRIMITIVES, Scalar, SearchSpace

__all__ = ["resolve"]


_NONZERO_DIGIT = re.compile(r"[1-9]")


def _short(number: str) -> str:
    """A number's text, shortened for an error message."""
    return number if len(number) <= 24 else f"{number[:12]}...{number[-6:]} ({len(number)} characters)"


def _type_list(types: tuple[type, ...]) -> str:
    return ", ".join(t.__name__ for t in types)


class _Resolver:
    def __init__(self, space: SearchSpace, text: str) -> None:
        self.space = space
        self.text = text

    def known_names(self) -> list[str]:
        return list(self.space.input_map) + list(self.space.primitive_map)

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.known_names(), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def resolve(self, node: SyntaxNode) -> Expr:
        if node.kind == "number":
            return self.constant(node)
        if node.kind == "name":
            return self.name(node)
        return self.call(node)

    def constant(self, node: SyntaxNode) -> Expr:
        """Any finite number a user writes (the search itself only generates the space's constants)."""
        value = float(node.name)
        if not math.isfinite(value):
            raise FormulaSyntaxError(
                f"number {_short(node.name)} is too large (the largest is about 1.8e308)", self.text, node.pos
            )
        if value == 0.0 and _NONZERO_DIGIT.search(node.name.lower().split("e")[0]):
            raise FormulaSyntaxError(
                f"number {_short(node.name)} is too small (it would be 0; the smallest is about 5e-324)",
                self.text,
                node.pos,
            )
        return Expr("constant", format_constant(value), Scalar, value=value)

    def name(self, node: SyntaxNode) -> Expr:
        inp = self.space.input_map.get(node.name)
        if inp is not None:
            return Expr("input", inp.name, inp.type)
        if node.name in self.space.primitive_map:
            raise ArityError(f"primitive {node.name!r} must be called, e.g. {node.name}(...)", self.text, node.pos)
        inputs = ", ".join(self.space.input_map)
        raise UnknownNameError(
            f"unknown name {node.name!r}{self.suggest(node.name)}; inputs of {self.space.name!r}: {inputs}",
            self.text,
            node.pos,
        )

    def call(self, node: SyntaxNode) -> Expr:
        prim = self.space.primitive_map.get(node.name)
        if prim is None:
            if node.name in self.space.input_map:
                raise UnknownNameError(f"{node.name!r} is an input, not a function", self.text, node.pos)
            if node.name in PRIMITIVES:
                raise UnknownNameError(
                    f"primitive {node.name!r} is not in space {self.space.name!r} (add it with "
                    f"extend_space({self.space.name!r}, primitives=({node.name!r},)))",
                    self.text,
                    node.pos,
                )
            raise UnknownNameError(
                f"unknown function {node.name!r}{self.suggest(node.name)}; if a plugin defines it, pass --plugin "
                "MODULE or install the plugin's package",
                self.text,
                node.pos,
            )
        if len(node.args) != prim.arity:
            raise ArityError(
                f"{node.name} takes {prim.arity} argument{'s' * (prim.arity != 1)}, got {len(node.args)}",
                self.text,
                node.pos,
            )
        children = tuple(self.resolve(a) for a in node.args)
        arg_types = tuple(c.type for c in children)
        ov = self.space.resolve(node.name, arg_types)
        if ov is None:
            accepted = "; ".join(f"({_type_list(s.args)})" for s in self.space.signatures_of(node.name))
            raise FormulaTypeError(
                f"{node.name} does not take ({_type_list(arg_types)}); it takes {accepted}",
                self.text,
                node.pos,
            )
        return Expr("primitive", prim.name, ov.signature.result, children, ov)


def resolve(node: SyntaxNode, space: SearchSpace, text: str = "") -> Expr:
    """Typed :class:`Expr` of ``node`` in ``space``; checks the output type too."""
    expr = _Resolver(space, text).resolve(node)
    if expr.type is not space.output:
        raise OutputTypeError(
            f"formula gives a {expr.type.__name__} but space {space.name!r} needs a {space.output.__name__}",
            text,
            0,
        )
    return expr
