"""Checks run when a primitive or a space is registered: one clear error that names the fix.

A registration that passes these checks gives losses whose text parses back (``parse(str(loss)) == loss``):
names are formula names, infix symbols are ones the formula parser reads, and no name means two things.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from primitives.types import ValueType

if TYPE_CHECKING:  # pragma: no cover
    from primitives.primitive import Primitive
    from primitives.spaces import SearchSpace

__all__ = ["RegistrationError", "INFIX_SYMBOLS", "check_primitive", "check_space", "check_formula_name"]

#: the operator characters the formula tokenizer reads (``gp_autoloss/formula/tokens.py``)
INFIX_SYMBOLS = ("+", "-", "*", "/")
_FORMULA_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_REGISTRY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class RegistrationError(ValueError):
    """A primitive, space or known loss that cannot be registered as given (the message says why and how)."""


def check_formula_name(name: object, what: str) -> None:
    """``name`` must be a name the formula parser reads: letters, digits and ``_``, not starting with a digit."""
    if not isinstance(name, str) or not _FORMULA_NAME.fullmatch(name):
        raise RegistrationError(
            f"{what} name {name!r} cannot be written in a formula: use letters, digits and '_' only, starting with a "
            "letter or '_' (e.g. 'my_op')"
        )


def check_registry_name(name: object, what: str) -> None:
    """A registry key (space, known loss): non-empty, no spaces or quotes, so that it can be typed on a command line."""
    if not isinstance(name, str) or not _REGISTRY_NAME.fullmatch(name):
        raise RegistrationError(f"{what} name {name!r} must be letters, digits, '_', '.' or '-' (e.g. 'seg_bin')")


def _is_type(tag: object) -> bool:
    return isinstance(tag, type) and issubclass(tag, ValueType) and tag is not ValueType


def check_signatures(name: str, signatures: tuple[object, ...]) -> None:
    """At least one signature, each with value types, all with one arity."""
    from primitives.primitive import Signature

    if not signatures:
        raise RegistrationError(
            f"primitive {name!r} has no signatures: pass at least one, e.g. UNARY, BINARY or "
            "(Signature((Scalar,), Scalar),) from primitives"
        )
    for sig in signatures:
        if not isinstance(sig, Signature) or not all(_is_type(t) for t in (*sig.args, sig.result)):
            raise RegistrationError(
                f"primitive {name!r}: {sig!r} is not a Signature over Scalar/Vector, e.g. Signature((Scalar,), Scalar)"
            )
    if len({len(s.args) for s in signatures}) != 1:  # type: ignore[attr-defined]
        raise RegistrationError(f"primitive {name!r}: all signatures must take the same number of arguments")


def check_primitive(prim: Primitive, registered: Iterable[Primitive], input_names: Iterable[str]) -> None:
    """Refuse a primitive whose losses would not print to text that parses back.

    ``registered``: the other primitives already registered; ``input_names``: inputs of the registered spaces.
    """
    check_formula_name(prim.name, "primitive")
    if not callable(prim.fn):
        raise RegistrationError(f"primitive {prim.name!r}: fn must be a callable taking tensors, got {prim.fn!r}")
    if prim.name in set(input_names):
        raise RegistrationError(
            f"primitive {prim.name!r} is named like an input of a registered space: pick another name"
        )
    if prim.infix is None:
        return
    if prim.infix not in INFIX_SYMBOLS or prim.arity not in (1, 2):
        raise RegistrationError(
            f"primitive {prim.name!r}: infix {prim.infix!r} cannot be parsed back (infix symbols: "
            f"{' '.join(INFIX_SYMBOLS)}, for one or two arguments); register it without infix= and write "
            f"{prim.name}(...)"
        )
    if not isinstance(prim.precedence, int) or isinstance(prim.precedence, bool):
        raise RegistrationError(f"primitive {prim.name!r}: precedence must be an integer, got {prim.precedence!r}")
    for other in registered:
        if other.name != prim.name and other.infix == prim.infix and other.arity == prim.arity:
            raise RegistrationError(
                f"primitive {prim.name!r}: infix {prim.infix!r} with {prim.arity} argument(s) is already "
                f"{other.name!r}; register it without infix= and write {prim.name}(...)"
            )


def check_space(space: SearchSpace, primitive_names: Iterable[str]) -> None:
    """Refuse a space whose names clash or whose parts are not what the search needs."""
    check_registry_name(space.name, "space")
    if not space.inputs:
        raise RegistrationError(f"space {space.name!r} has no inputs: give at least one Input(name, Scalar|Vector)")
    prims = set(primitive_names)
    for inp in space.inputs:
        check_formula_name(inp.name, f"space {space.name!r}: input")
        if inp.name in prims:
            raise RegistrationError(
                f"space {space.name!r}: input {inp.name!r} is named like a primitive: pick another name"
            )
        if not _is_type(inp.type):
            raise RegistrationError(f"space {space.name!r}: input {inp.name!r} must have type Scalar or Vector")
    if not _is_type(space.output):
        raise RegistrationError(f"space {space.name!r}: output must be Scalar or Vector")
    for c in space.constants:
        if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c) or c < 0:
            raise RegistrationError(
                f"space {space.name!r}: constant {c!r} must be a finite number >= 0 (formulas write -c for negatives)"
            )
    if space.initial_loss is not None and not isinstance(space.initial_loss, str):
        raise RegistrationError(f"space {space.name!r}: initial_loss must be a known loss name or None")
