"""Probe batches: every input point the checks of one space look at, built once and cached per space.

A :class:`ProbeSet` holds the inputs of one batched call (validness scenarios *and* convergence curves
side by side), the inputs the gradient is taken with respect to, labelled row groups for error messages,
and the :class:`Curves` the convergence checks read. Spaces register a builder with
:func:`register_probes`; a space without one gets :func:`default_probes` (a sample of its inputs' domains).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gp_autoloss.loss import resolve_space
from primitives import Registry, SearchSpace, Vector

__all__ = [
    "DOMAIN_SAMPLE",
    "DTYPE",
    "PROBE_BUILDERS",
    "ProbeTensors",
    "Curves",
    "ProbeBuilder",
    "ProbeGroup",
    "ProbeSet",
    "build_probe_set",
    "default_probes",
    "domain_part",
    "get_probes",
    "register_probes",
]  # fmt: skip

#: probes are evaluated in float64 (float32 saturates sigmoid at 17 and hides gradient tails)
DTYPE = torch.float64


@dataclass(frozen=True)
class ProbeGroup:
    """Rows ``start:stop`` of a probe batch, with a label for messages (``"extreme logits ±50"``)."""

    label: str
    start: int
    stop: int


@dataclass(frozen=True)
class Curves:
    """One-parameter families of probe rows along which a loss must be monotone.

    Attributes:
        rows: ``(M, K)`` row indices: curve ``m`` visits rows ``rows[m, 0], rows[m, 1], ...``.
        params: ``(M, K)`` the parameter at each point, increasing along a curve (for messages).
        direction: ``(M,)``: ``+1`` the loss must not decrease as the parameter grows, ``-1`` not increase.
        labels: ``M`` descriptions (``"positive logit, target class 0, w=0.2"``).
        param_name: what the parameter is (``"score"``, ``"distance"``).
        grad_input: input whose gradient holds dL/d(parameter), or ``None`` (no gradient reading).
        grad_index: ``(M, K)`` flat indices into that input's gradient.
        vanish: ``(M,)`` curves whose gradient magnitude must fall to ~0 at the end (positive scores).
        tail_start: first point of the tail read for the vanishing-gradient trend.
        rtol: tolerance of "never decreases"/"never increases", relative to the curve's scale 1 + max|L|
            (larger where the inputs carry float32 rounding).
    """

    rows: np.ndarray
    params: np.ndarray
    direction: np.ndarray
    labels: tuple[str, ...]
    param_name: str = "parameter"
    grad_input: str | None = None
    grad_index: np.ndarray | None = None
    vanish: np.ndarray | None = None
    tail_start: int = 0
    rtol: float = 1e-9

    def __post_init__(self) -> None:
        # derived arrays the checks use on every candidate
        object.__setattr__(self, "signs", np.asarray(self.direction, dtype=np.float64)[:, None])
        vanish = np.zeros(len(self.labels), bool) if self.vanish is None else np.asarray(self.vanish, bool)
        object.__setattr__(self, "vanish_index", np.flatnonzero(vanish))


class ProbeTensors:
    """The inputs of a probe batch in one precision, with the gradient leaves and the backward's seed."""

    def __init__(self, inputs: dict[str, torch.Tensor], wrt: tuple[str, ...], out_shape: tuple[int, ...]) -> None:
        self.inputs = inputs
        self.leaves = tuple(inputs[n] for n in wrt)
        self.ones = torch.ones(out_shape, dtype=next(iter(inputs.values())).dtype)


@dataclass
class ProbeSet:
    """The probe batch of one space.

    Attributes:
        space: the space's name.
        inputs: float64 tensors, shaped as the space's primitives expect (scalars ``(B, 1)`` next to
            ``(B, C)`` vectors, else ``(N,)``); the ``wrt`` ones are leaves with ``requires_grad``.
        wrt: inputs the gradient is checked for (the differentiable prediction inputs).
        rows: number of probe points (length of the flattened per-point output).
        out_shape: shape the loss output broadcasts to (``(B, 1)`` or ``(N,)``).
        groups: labelled row ranges, covering every row.
        curves: what the convergence check reads, if anything.
        meta: anything else a registered convergence check needs.
    """

    space: str
    inputs: dict[str, torch.Tensor]
    wrt: tuple[str, ...]
    rows: int
    out_shape: tuple[int, ...]
    groups: tuple[ProbeGroup, ...]
    curves: Curves | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.arrays = {k: v.detach().numpy() for k, v in self.inputs.items()}
        self._tensors: dict[torch.dtype, ProbeTensors] = {DTYPE: ProbeTensors(self.inputs, self.wrt, self.out_shape)}
        self._group_of = np.zeros(self.rows, dtype=np.int64)
        for k, g in enumerate(self.groups):
            self._group_of[g.start : g.stop] = k

    def tensors(self, dtype: torch.dtype = DTYPE) -> ProbeTensors:
        """The batch's inputs in ``dtype`` (float64 as built; other precisions converted once and cached)."""
        found = self._tensors.get(dtype)
        if found is None:
            inputs = {k: v.detach().to(dtype).requires_grad_(k in self.wrt) for k, v in self.inputs.items()}
            found = self._tensors[dtype] = ProbeTensors(inputs, self.wrt, self.out_shape)
        return found

    def group_of(self, row: int) -> ProbeGroup:
        """The group a row belongs to."""
        return self.groups[int(self._group_of[row])]

    def groups_of(self, rows: np.ndarray) -> np.ndarray:
        """Indices (into :attr:`groups`) of the groups that contain ``rows``, sorted, unique."""
        return np.unique(self._group_of[rows])

    def describe(self, row: int) -> dict[str, Any]:
        """The inputs of one probe point, as plain numbers (vectors as lists)."""
        out: dict[str, Any] = {}
        for name, arr in self.arrays.items():
            value = arr[row]
            out[name] = [_num(v) for v in value] if np.ndim(value) and value.size > 1 else _num(np.ravel(value)[0])
        return out

    def where(self, row: int) -> str:
        """``"<group label> (x=..., y=..., w=...)"`` for messages."""
        inputs = ", ".join(f"{k}={_fmt(v)}" for k, v in self.describe(row).items())
        return f"{self.group_of(row).label} ({inputs})"


def _num(v: Any) -> float:
    return float(v)


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return f"{v:.4g}"


def build_probe_set(
    space: str,
    parts: list[tuple[str, dict[str, np.ndarray]]],
    wrt: tuple[str, ...],
    vector_inputs: tuple[str, ...] = (),
    curves: Curves | None = None,
    meta: dict[str, Any] | None = None,
) -> ProbeSet:
    """Concatenate labelled parts (each ``{input: array with one row per point}``) into a :class:`ProbeSet`.

    Scalars of a space with vectors get a trailing class dimension of 1; ``wrt`` inputs become leaves.
    """
    names = list(parts[0][1])
    groups, start = [], 0
    for label, arrays in parts:
        n = len(next(iter(arrays.values())))
        groups.append(ProbeGroup(label, start, start + n))
        start += n
    inputs: dict[str, torch.Tensor] = {}
    for name in names:
        arr = np.concatenate([np.asarray(p[1][name], dtype=np.float64) for p in parts])
        if vector_inputs and name not in vector_inputs:
            arr = arr.reshape(-1, 1)
        t = torch.from_numpy(np.ascontiguousarray(arr)).to(DTYPE)
        inputs[name] = t.requires_grad_(True) if name in wrt else t
    out_shape = (start, 1) if vector_inputs else (start,)
    return ProbeSet(space, inputs, wrt, start, out_shape, tuple(groups), curves, dict(meta or {}))


ProbeBuilder = Callable[[SearchSpace], ProbeSet]

#: probe-batch builders by space name
PROBE_BUILDERS: Registry[ProbeBuilder] = Registry("probe builder")


def register_probes(space: str, *, replace: bool = False) -> Callable[[ProbeBuilder], ProbeBuilder]:
    """Decorator registering the probe-batch builder of ``space``."""

    def deco(fn: ProbeBuilder) -> ProbeBuilder:
        PROBE_BUILDERS.add(space, fn, replace=replace)
        _CACHE.pop(space, None)
        return fn

    return deco


#: points of the probe batch of a space without a registered builder, and the classes of its vectors
DEFAULT_POINTS = 2048
DEFAULT_CLASSES = 3
_DEFAULT_SEED = 20210103


#: label of the probe rows drawn from the input domains
DOMAIN_SAMPLE = "sample of the input domains"


def domain_part(space: SearchSpace, n: int, seed: int, classes: int = DEFAULT_CLASSES) -> tuple[str, dict[str, np.ndarray]]:
    """A labelled probe part of ``n`` seeded joint samples of the space's input domains (vectors with ``classes``
    classes): the values training feeds the inputs, for a builder's ``parts``."""
    sample = space.sample_inputs(n, torch.Generator().manual_seed(seed), classes=classes)
    return DOMAIN_SAMPLE, {name: t.numpy() for name, t in sample.items()}


def default_probes(space: SearchSpace) -> ProbeSet:
    """Probes for a space without a registered builder: a seeded sample of every input's declared domain.

    :data:`DEFAULT_POINTS` joint samples of :meth:`~primitives.spaces.SearchSpace.sample_inputs` (vectors
    with :data:`DEFAULT_CLASSES` classes): the values training feeds the inputs, never a range convenient for
    the formula. The gradient is checked with respect to the space's prediction inputs; no convergence curves.
    """
    vectors = tuple(i.name for i in space.inputs if i.type is Vector)
    part = domain_part(space, DEFAULT_POINTS, _DEFAULT_SEED)
    return build_probe_set(space.name, [part], space.prediction_inputs, vectors)


_CACHE: dict[str, tuple[SearchSpace, ProbeSet]] = {}


def get_probes(space: str | SearchSpace) -> ProbeSet:
    """The (cached) probe batch of a space: its registered builder's, else :func:`default_probes`."""
    sp = resolve_space(space)
    hit = _CACHE.get(sp.name)
    if hit is not None and hit[0] is sp:
        return hit[1]
    builder = PROBE_BUILDERS.get(sp.name) if sp.name in PROBE_BUILDERS else default_probes
    probes = builder(sp)
    _CACHE[sp.name] = (sp, probes)
    return probes
