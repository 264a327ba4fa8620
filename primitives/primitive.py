"""The :class:`Primitive` record and the ``PRIMITIVES`` registry.

A primitive is a named torch function with one or more typed signatures. Registering one is all it takes
to make it available to search spaces, the formula parser, the torch compiler and the renderer::

    from primitives import PRIMITIVES, UNARY, register_primitive
    import torch

    register_primitive("square", lambda a: a * a, UNARY, doc="a^2")
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from primitives.registry import Registry
from primitives.types import Scalar, ValueType, Vector
from primitives.validation import check_primitive, check_signatures

__all__ = [
    "Signature",
    "Primitive",
    "PRIMITIVES",
    "register_primitive",
    "primitive",
    "UNARY",
    "UNARY_VECTOR",
    "BINARY",
    "DOT",
]

TypeTag = type[ValueType]


@dataclass(frozen=True)
class Signature:
    """One typed overload of a primitive: argument types and result type."""

    args: tuple[TypeTag, ...]
    result: TypeTag

    @property
    def code(self) -> str:
        """Short code of the argument types, e.g. ``"SV"``; used in DEAP's primitive names."""
        return "".join(t.short for t in self.args)

    def __str__(self) -> str:
        args = ", ".join(t.__name__ for t in self.args)
        return f"({args}) -> {self.result.__name__}"


#: element-wise unary: S -> S and V -> V
UNARY: tuple[Signature, ...] = (Signature((Scalar,), Scalar), Signature((Vector,), Vector))
#: unary over the class dimension: V -> V
UNARY_VECTOR: tuple[Signature, ...] = (Signature((Vector,), Vector),)
#: element-wise binary with broadcasting: V.V -> V, V.S -> V, S.V -> V, S.S -> S
BINARY: tuple[Signature, ...] = (
    Signature((Scalar, Scalar), Scalar),
    Signature((Scalar, Vector), Vector),
    Signature((Vector, Scalar), Vector),
    Signature((Vector, Vector), Vector),
)
#: class-wise reduction: V.V -> S
DOT: tuple[Signature, ...] = (Signature((Vector, Vector), Scalar),)


@dataclass(frozen=True)
class Primitive:
    """A named operator of the search space.

    Attributes:
        name: the name used in formulas (``"add"``, ``"softmax"``).
        fn: the torch implementation; takes ``arity`` tensors and returns a tensor. Scalars arrive with
            a trailing singleton class dimension in spaces that also have vectors, so plain broadcasting
            implements the type rules.
        signatures: the typed overloads.
        infix: operator symbol for infix printing/parsing (``"+"``) or ``None`` for call syntax.
        precedence: binding strength of the infix symbol (higher binds tighter).
        doc: one line of math shown in help and renders.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    signatures: tuple[Signature, ...]
    infix: str | None = None
    precedence: int = 0
    doc: str = ""
    commutative: bool = field(default=False)

    @property
    def arity(self) -> int:
        """Number of arguments (all overloads share it)."""
        return len(self.signatures[0].args)

    def resolve(self, arg_types: Sequence[TypeTag]) -> Signature | None:
        """The overload accepting ``arg_types`` exactly, or ``None``."""
        key = tuple(arg_types)
        for sig in self.signatures:
            if sig.args == key:
                return sig
        return None

    def deap_name(self, sig: Signature) -> str:
        """The DEAP primitive name of one overload, e.g. ``add_SV``."""
        return f"{self.name}_{sig.code}"

    def __post_init__(self) -> None:
        check_signatures(self.name, self.signatures)


PRIMITIVES: Registry[Primitive] = Registry("primitive")


def register_primitive(
    name: str,
    fn: Callable[..., torch.Tensor],
    signatures: Sequence[Signature],
    *,
    infix: str | None = None,
    precedence: int = 0,
    doc: str = "",
    commutative: bool = False,
    replace: bool = False,
) -> Primitive:
    """Create a :class:`Primitive` and add it to :data:`PRIMITIVES`.

    Checked here (:class:`~primitives.validation.RegistrationError`, naming the fix): the name is a formula
    name and no input of a registered space; ``infix`` is a symbol the formula parser reads and no other
    primitive's; at least one signature, all of one arity.
    """
    prim = Primitive(
        name=name,
        fn=fn,
        signatures=tuple(signatures),
        infix=infix,
        precedence=precedence,
        doc=doc,
        commutative=commutative,
    )
    spaces = sys.modules.get("primitives.spaces")  # not imported yet while the built-in primitives register
    inputs = {i.name for sp in spaces.SPACES.items() for i in sp[1].inputs} if spaces is not None else set()
    check_primitive(prim, [p for n, p in PRIMITIVES.items() if n != name], inputs)
    return PRIMITIVES.add(name, prim, replace=replace)


def primitive(
    name: str, signatures: Sequence[Signature], **kwargs: object
) -> Callable[[Callable[..., torch.Tensor]], Callable[..., torch.Tensor]]:
    """Decorator form of :func:`register_primitive`; returns the function unchanged."""

    def deco(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        register_primitive(name, fn, signatures, **kwargs)  # type: ignore[arg-type]
        return fn

    return deco
