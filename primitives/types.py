"""Value types of the loss search space.

DEAP's typed GP uses Python classes as type tags; these two carry the broadcast rules:

* :class:`Scalar` -- one value per sample (or per element, in element-wise spaces).
* :class:`Vector` -- one value per class, a ``B x C`` tensor.

Binary element-wise operators accept ``V.V -> V``, ``V.S -> V``, ``S.V -> V`` and ``S.S -> S``;
``dot`` maps ``V.V -> S`` and ``softmax`` maps ``V -> V`` over the class dimension.
"""

from __future__ import annotations

__all__ = ["Scalar", "Vector", "ValueType", "type_name", "type_from_name", "TYPES"]


class ValueType:
    """Base class of the value types (used only as a tag, never instantiated)."""

    short: str = "?"


class Scalar(ValueType):
    """One value per sample (or per element); broadcasts against a :class:`Vector`."""

    short = "S"


class Vector(ValueType):
    """One value per class: a ``B x C`` tensor."""

    short = "V"


TYPES: dict[str, type[ValueType]] = {"Scalar": Scalar, "Vector": Vector}


def type_name(t: type[ValueType]) -> str:
    """The public name of a value type (``"Scalar"`` or ``"Vector"``)."""
    return t.__name__


def type_from_name(name: str) -> type[ValueType]:
    """Look a value type up by its public name."""
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown value type {name!r}; known: {', '.join(TYPES)}") from None
