"""Compile a typed expression to a ``torch.nn.Module``.

The tree is walked once; identical subexpressions (equal :attr:`Expr.key`) become one step, so the
module evaluates the loss's DAG, not its tree. No text is generated or evaluated: the module runs a
short list of ``(function, argument slots)`` steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gp_autoloss.errors import LossInputError
from gp_autoloss.expr import Expr
from primitives import Scalar, SearchSpace

__all__ = ["CompiledLoss", "plan_steps"]

Step = tuple[Callable[..., torch.Tensor], tuple[int, ...]]

_SHAPE_CACHE_SIZE = 64  # distinct input shapes remembered per compiled loss


def plan_steps(expr: Expr, n_inputs_slots: dict[str, int], constants: list[float]) -> tuple[list[Step], int]:
    """Flatten ``expr`` into DAG steps.

    Slots ``0..len(inputs)-1`` hold the inputs, the next ones the constants (appended to ``constants``),
    then one slot per step. Returns the steps and the slot of the result.
    """
    slot_of: dict[str, int] = dict(n_inputs_slots)
    const_slots: dict[str, int] = {}
    steps: list[Step] = []
    base = len(n_inputs_slots)
    pending_consts: list[Expr] = [n for n in expr.walk() if n.kind == "constant"]
    for node in pending_consts:
        if node.key not in const_slots:
            const_slots[node.key] = base + len(constants)
            constants.append(float(node.value))  # type: ignore[arg-type]
    slot_of.update(const_slots)
    first_step_slot = base + len(constants)

    def visit(node: Expr) -> int:
        found = slot_of.get(node.key)
        if found is not None:
            return found
        args = tuple(visit(c) for c in node.children)
        steps.append((node.overload.primitive.fn, args))  # type: ignore[union-attr]
        slot = first_step_slot + len(steps) - 1
        slot_of[node.key] = slot
        return slot

    return steps, visit(expr)


def _last_uses(steps: list[Step], first_step_slot: int, out: int) -> list[tuple[int, ...]]:
    """For each step, the step results it is the last one to read (never the output)."""
    last: dict[int, int] = {}
    for k, (_, args) in enumerate(steps):
        for a in args:
            if a >= first_step_slot:
                last[a] = k
    frees: list[list[int]] = [[] for _ in steps]
    for slot, k in last.items():
        if slot != out:
            frees[k].append(slot)
    return [tuple(f) for f in frees]


class CompiledLoss(nn.Module):
    """The unreduced loss of one formula, called with the space's inputs as keyword tensors.

    Returns shape ``(B,)`` for a per-sample output over vector inputs, else the broadcast shape of
    the inputs (``(B, C)`` in ``sigmoid_cls``, ``(N,)`` boxes in ``iou_reg``).
    """

    def __init__(self, space: SearchSpace, expr: Expr, formula: str = "") -> None:
        super().__init__()
        self.space = space
        self.formula = formula
        self._names = [i.name for i in space.inputs]
        self._unsqueeze = [space.has_vectors and i.type is Scalar for i in space.inputs]
        self._scalar_slots = [k for k, u in enumerate(self._unsqueeze) if u]
        self._vector_slots = [k for k, u in enumerate(self._unsqueeze) if not u]
        self._constants: list[float] = []
        self._steps, self._out = plan_steps(expr, {n: k for k, n in enumerate(self._names)}, self._constants)
        self._squeeze_out = space.has_vectors and space.output is Scalar
        self._const_cache: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        # The output shape per tuple of input shapes: working it out costs as much as a whole small loss,
        # and a training run sees few distinct shapes.
        self._shape_cache: dict[tuple[torch.Size, ...], torch.Size] = {}
        # Steps by arity, so that the hot loop indexes slots directly instead of building argument lists,
        # each with the intermediate slots it uses last: dropping those at once keeps fewer B x C tensors
        # alive (autograd keeps what backward needs), which is faster than holding all to the end.
        frees = _last_uses(self._steps, len(self._names) + len(self._constants), self._out)
        self._fast_steps = [
            (fn, args[0], args[1] if len(args) == 2 else -1, free) if 1 <= len(args) <= 2 else (fn, args, -2, free)
            for (fn, args), free in zip(self._steps, frees)
        ]

    @property
    def num_steps(self) -> int:
        """Operator evaluations per call (after merging shared subexpressions)."""
        return len(self._steps)

    def _gather_inputs(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        names = self._names
        try:
            values = [inputs[n] for n in names]
        except KeyError:
            values = []
        if len(values) != len(names) or len(inputs) != len(names):
            missing = [n for n in names if n not in inputs]
            extra = [n for n in inputs if n not in names]
            raise LossInputError(
                f"loss over {self.space.name!r} takes inputs {names}; missing {missing}, unexpected {extra}"
            )
        for name, t in zip(names, values):
            if not isinstance(t, torch.Tensor):
                raise LossInputError(f"input {name!r} must be a torch.Tensor, not {type(t).__name__}")
        if self._scalar_slots:
            # Scalars given one dimension short of the vectors get a trailing class dimension of 1.
            vec_ndim = max([values[k].dim() for k in self._vector_slots], default=0)
            for k in self._scalar_slots:
                if values[k].dim() == vec_ndim - 1:
                    values[k] = values[k].unsqueeze(-1)
        return values

    def _constant_tensors(self, ref: torch.Tensor) -> list[torch.Tensor]:
        key = (ref.dtype, ref.device)
        consts = self._const_cache.get(key)
        if consts is None:
            consts = [torch.tensor(c, dtype=ref.dtype, device=ref.device) for c in self._constants]
            self._const_cache[key] = consts
        return consts

    def _output_shape(self, values: list[torch.Tensor]) -> torch.Size:
        shapes = [t.shape for t in values]
        if self._squeeze_out:
            shapes = [s if u else s[:-1] + (1,) for s, u in zip(shapes, self._unsqueeze)]
        # Plain broadcasting rules; torch.broadcast_shapes costs tens of microseconds and imports sympy.
        out = [1] * max((len(s) for s in shapes), default=0)
        for s in shapes:
            for k, d in enumerate(s, start=len(out) - len(s)):
                if d != 1:
                    if out[k] not in (1, d):
                        given = ", ".join(f"{n}: {tuple(t.shape)}" for n, t in zip(self._names, values))
                        raise LossInputError(f"inputs of {self.space.name!r} do not broadcast together ({given})")
                    out[k] = d
        return torch.Size(out)

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        values = self._gather_inputs(inputs)
        shape_key = tuple([t.shape for t in values])
        shape = self._shape_cache.get(shape_key)
        if shape is None:
            shape = self._output_shape(values)
            if len(self._shape_cache) < _SHAPE_CACHE_SIZE:
                self._shape_cache[shape_key] = shape
        values.extend(self._constant_tensors(values[0]))
        append = values.append
        for fn, a, b, free in self._fast_steps:
            if b >= 0:
                append(fn(values[a], values[b]))
            elif b == -1:
                append(fn(values[a]))
            else:
                append(fn(*[values[k] for k in a]))
            for k in free:
                values[k] = None
        out = values[self._out]
        if out.shape != shape:
            out = out.expand(shape)
        if self._squeeze_out:
            out = out.squeeze(-1)
        return out

    def extra_repr(self) -> str:
        return f"space={self.space.name}, steps={len(self._steps)}, formula={self.formula!r}"
