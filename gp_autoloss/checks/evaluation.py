"""One batched forward and one backward of a candidate over its space's probe batch.

The checks run thousands of candidates a second, so they evaluate the DEAP tree directly with a value
stack: no :class:`~gp_autoloss.expr.Expr`, no text keys, no ``nn.Module``. The arithmetic is exactly
:class:`~gp_autoloss.compile.CompiledLoss`'s (the same primitive functions applied to the same
arguments; only the merging of repeated subexpressions is skipped), which the tests assert.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from deap import gp

from gp_autoloss.checks.probes import DTYPE, ProbeSet, get_probes
from gp_autoloss.loss import Loss
from primitives import SearchSpace

__all__ = ["F32_MAX", "Evaluation", "evaluate", "evaluate_tree", "in_range"]

#: largest finite float32: a float64 probe value or gradient beyond it is ±inf in float32 training
F32_MAX = float(np.finfo(np.float32).max)

_FNS: dict[int, tuple[SearchSpace, dict[str, object]]] = {}


def _public_grad(out: torch.Tensor, leaves: tuple[torch.Tensor, ...], ones: torch.Tensor) -> tuple:
    return torch.autograd.grad(out, leaves, grad_outputs=ones, allow_unused=True)


def _engine_grad_fn():
    """``torch.autograd.grad`` minus its Python argument checks (~25 us a call on tiny graphs), if available.

    Uses the engine call ``torch.autograd.grad`` itself makes; verified on a small graph at import and
    replaced by the public function if this torch version differs.
    """
    try:
        engine = torch.autograd.Variable._execution_engine

        def grad(out: torch.Tensor, leaves: tuple[torch.Tensor, ...], ones: torch.Tensor) -> tuple:
            return engine.run_backward((out,), (ones,), False, False, leaves, True, False)

        a = torch.tensor([1.0, 2.0], dtype=DTYPE, requires_grad=True)
        b = torch.tensor([3.0], dtype=DTYPE, requires_grad=True)
        ga, gb = grad(a * a, (a, b), torch.ones(2, dtype=DTYPE))
        if gb is not None or not torch.equal(ga, torch.tensor([2.0, 4.0], dtype=DTYPE)):
            return _public_grad
        return grad
    except Exception:  # noqa: BLE001 - any surprise: use the public API
        return _public_grad


_grad = _engine_grad_fn()
_CONSTS: dict[tuple[float, torch.dtype], torch.Tensor] = {}


def _functions(space: SearchSpace) -> dict[str, object]:
    hit = _FNS.get(id(space))
    if hit is None or hit[0] is not space:
        hit = (space, {name: ov.primitive.fn for name, ov in space.overloads.items()})
        _FNS[id(space)] = hit
    return hit[1]


def _constant(value: float, dtype: torch.dtype) -> torch.Tensor:
    key = (value, dtype)
    t = _CONSTS.get(key)
    if t is None:
        t = _CONSTS[key] = torch.tensor(float(value), dtype=dtype)
    return t


def evaluate_tree(space: SearchSpace, tree: gp.PrimitiveTree, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Evaluate a tree of ``space`` on inputs already shaped for its primitives (constants take their dtype).

    Returns the raw result: it may be 0-d (a constant formula) or lack the class dimension's broadcast;
    callers broadcast it to the batch shape.
    """
    fns = _functions(space)
    dtype = next(iter(inputs.values())).dtype
    stack: list[torch.Tensor] = []
    pop, push = stack.pop, stack.append
    for node in reversed(tree):
        arity = node.arity
        if arity == 0:
            v = node.value
            push(inputs[v] if isinstance(v, str) else _constant(v, dtype))
        elif arity == 1:
            push(fns[node.name](pop()))  # type: ignore[operator]
        else:
            a = pop()
            push(fns[node.name](a, pop()))  # type: ignore[operator]
    return stack[0]


@dataclass
class Evaluation:
    """A loss evaluated on its probe batch.

    Attributes:
        probes: the batch.
        dtype: the precision it was evaluated in.
        values: ``(rows,)`` float64 loss value per probe point (``None`` if evaluation raised).
        grads: gradient per ``wrt`` input, shaped like that input (``None`` until computed, or when the
            values were not all finite, in which case the backward is skipped).
        depends: whether the loss depends on any ``wrt`` input at all.
        error: the exception text, if the forward or backward raised.
    """

    probes: ProbeSet
    dtype: torch.dtype = DTYPE
    values: np.ndarray | None = None
    grads: dict[str, np.ndarray] | None = None
    depends: bool = True
    error: str = ""
    _out: torch.Tensor | None = field(default=None, repr=False)

    @property
    def values_in_range(self) -> bool:
        """All values finite and within float32's range."""
        return self.values is not None and in_range(self.values)

    def backward(self) -> None:
        """Compute :attr:`grads` (one ``torch.autograd.grad`` call over the whole batch)."""
        if self.grads is not None or self.values is None:
            return
        p = self.probes
        if not self.depends:
            self.grads = {n: np.zeros(p.inputs[n].shape) for n in p.wrt}
            return
        tensors = p.tensors(self.dtype)
        leaves = tensors.leaves
        out = self._out
        assert out is not None
        ones = tensors.ones if out.shape == tensors.ones.shape else torch.ones(out.shape, dtype=self.dtype)
        try:
            grads = _grad(out, leaves, ones)
        except Exception as exc:  # noqa: BLE001 - a candidate's failure is a verdict, not a crash
            self.error = f"backward raised {type(exc).__name__}: {exc}"
            self.grads = {}
            return
        self.grads = {
            n: (np.zeros(leaf.shape) if g is None else g.numpy()) for n, leaf, g in zip(p.wrt, leaves, grads)
        }
        self._out = None


def in_range(arr: np.ndarray) -> bool:
    """No NaN, no ±inf and nothing beyond float32's range (NaN fails both comparisons)."""
    return bool(arr.max() <= F32_MAX) and bool(arr.min() >= -F32_MAX)


def evaluate(loss: Loss, probes: ProbeSet | None = None, dtype: torch.dtype = DTYPE) -> Evaluation:
    """Run the forward of ``loss`` over its space's probe batch in ``dtype`` (float64 by default).

    The backward is :meth:`Evaluation.backward`. Values and gradients come back as numpy arrays in ``dtype``.
    """
    p = probes if probes is not None else get_probes(loss.space)
    ev = Evaluation(p, dtype)
    inputs = p.tensors(dtype).inputs
    try:
        if torch.is_grad_enabled() and not torch.is_inference_mode_enabled():
            out = evaluate_tree(loss.space, loss.tree, inputs)
        else:  # called under no_grad / inference_mode: the checks need the autograd graph regardless
            with torch.inference_mode(False), torch.enable_grad():
                out = evaluate_tree(loss.space, loss.tree, inputs)
    except Exception as exc:  # noqa: BLE001
        ev.error = f"forward raised {type(exc).__name__}: {exc}"
        return ev
    values = out.detach().numpy()
    if values.size == 1:  # a formula that ignores the batch (constants only)
        values = np.full(p.out_shape, values.item(), dtype=values.dtype)
    elif values.shape != p.out_shape:
        try:
            values = np.broadcast_to(values, p.out_shape)
        except ValueError:
            ev.error = f"output of shape {tuple(values.shape)} does not fit the probe batch {p.out_shape}"
            return ev
    ev.values = values.reshape(-1)
    ev.depends = out.requires_grad
    ev._out = out if out.requires_grad else None
    return ev
