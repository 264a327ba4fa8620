"""Add primitives or constants to a registered space: one documented call instead of ``dataclasses.replace``
plus ``register_space(replace=True)``.

    from primitives import UNARY, extend_space, register_primitive

    register_primitive("square", lambda a: a * a, UNARY, doc="a^2")
    extend_space("softmax_cls", primitives=("square",))          # the built-in space now searches with it
    extend_space("iou_reg", primitives=("square",), name="iou_reg_sq")   # or a new space next to it

The extended space is checked like any registration (each primitive must have a signature over the space's
types). Losses made before keep the space they were made in; losses parsed afterwards use the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from primitives.spaces import SearchSpace, get_space, register_space

__all__ = ["extend_space"]


def extend_space(
    space: str | SearchSpace,
    *,
    primitives: Sequence[str] = (),
    constants: Sequence[float] = (),
    name: str | None = None,
) -> SearchSpace:
    """Register ``space`` with more ``primitives`` (registered primitive names) and ``constants``.

    With ``name``, the extended space is registered as a new space and the original stays as it was; without,
    it replaces the original under its own name. Names already in the space are ignored. Returns the new space.
    """
    base = get_space(space)
    if isinstance(primitives, str) or isinstance(constants, str):
        raise TypeError("primitives and constants take a sequence, e.g. primitives=('square',)")
    extended = replace(
        base,
        name=name or base.name,
        primitives=base.primitives + tuple(p for p in dict.fromkeys(primitives) if p not in base.primitives),
        constants=base.constants + tuple(c for c in dict.fromkeys(constants) if c not in base.constants),
    )
    return register_space(extended, replace=name is None)
