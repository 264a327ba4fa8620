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
        self._constants: list[float] = []
        self._steps, self._out = plan_steps(expr, {n: k for k, n in enumerate(self._names)}, self._constants)
        self._squeeze_out = space.has_vectors and space.output is Scalar
        self._const_cache: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}

    @property
    def num_steps(self) -> int:
        """Operator evaluations per call (after merging shared subexpressions)."""
        return len(self._steps)

    def _gather_inputs(self, inputs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        if len(inputs) != len(self._names) or any(n not in inputs for n in self._names):
            missing = [n for n in self._names if n not in inputs]
            extra = [n for n in inputs if n not in self._names]
            raise LossInputError(
                f"loss over {self.space.name!r} takes inputs {self._names}; missing {missing}, unexpected {extra}"
            )
        values = [inputs[n] for n in self._names]
        for name, t in zip(self._names, values):
            if not isinstance(t, torch.Tensor):
                raise LossInputError(f"input {name!r} must be a torch.Tensor, not {type(t).__name__}")
        if self._squeeze_out or any(self._unsqueeze):
            # Scalars given one dimension short of the vectors get a trailing class dimension of 1.
            vec_ndim = max((t.dim() for t, u in zip(values, self._unsqueeze) if not u), default=0)
            values = [t.unsqueeze(-1) if u and t.dim() == vec_ndim - 1 else t for t, u in zip(values, self._unsqueeze)]
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
        return torch.broadcast_shapes(*shapes)

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:  # noqa: D102
        values = self._gather_inputs(inputs)
        values.extend(self._constant_tensors(values[0]))
        for fn, args in self._steps:
            values.append(fn(*[values[a] for a in args]))
        out = values[self._out]
        shape = self._output_shape(values[: len(self._names)])
        if out.shape != shape:
            out = out.expand(shape)
        if self._squeeze_out:
            out = out.squeeze(-1)
        return out

    def extra_repr(self) -> str:
        return f"space={self.space.name}, steps={len(self._steps)}, formula={self.formula!r}"
