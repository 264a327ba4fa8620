"""Equivalence of candidates: the same canonical form, or the same outputs on fixed probe inputs.

The fingerprint hashes a candidate's values on a fixed, seeded probe batch (rounded to 9 significant
digits, so ``a + b`` and ``b + a``, or ``x * 1`` and ``x``, collide). Equivalent candidates share their
evaluations: the engine computes each stage once per fingerprint.
"""

from __future__ import annotations

import hashlib
from functools import cache

import torch

from gp_autoloss.loss import Loss
from primitives import Scalar, SearchSpace, get_space

__all__ = ["fingerprint", "probe_inputs"]

_PROBE_BATCH = 24
_PROBE_CLASSES = 5


@cache
def _probe(space_name: str) -> dict[str, torch.Tensor]:
    space: SearchSpace = get_space(space_name)
    gen = torch.Generator().manual_seed(12345)
    out: dict[str, torch.Tensor] = {}
    for inp in space.inputs:
        if inp.type is Scalar and space.has_vectors:
            shape: tuple[int, ...] = (_PROBE_BATCH,)
        else:
            shape = (_PROBE_BATCH, _PROBE_CLASSES) if space.has_vectors or space.reduction == "sum_classes" else (_PROBE_BATCH,)
        # positive, varied values: wide enough to separate functions, valid for log/sqrt/div
        out[inp.name] = torch.rand(shape, generator=gen, dtype=torch.float64) * 3.0 + 0.05
    return out


def probe_inputs(space: SearchSpace) -> dict[str, torch.Tensor]:
    """The fixed probe batch of a space (float64)."""
    return _probe(space.name)


def fingerprint(loss: Loss) -> str:
    """A short hash of ``loss``'s values on the probe batch (the canonical key if evaluation fails)."""
    try:
        with torch.no_grad():
            values = loss(**probe_inputs(loss.space)).reshape(-1).tolist()
    except Exception:  # noqa: BLE001 - any failure: fall back to syntactic identity
        return "key:" + hashlib.sha1(loss.key.encode()).hexdigest()[:20]
    text = ",".join(format(v, ".9g") for v in values)
    return hashlib.sha1(f"{loss.space.name}|{text}".encode()).hexdigest()[:20]
