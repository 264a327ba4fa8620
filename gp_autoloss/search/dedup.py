"""Equivalence of candidates: the same values on samples of the space's input domains.

Two losses are equivalent when they agree wherever training runs them: on every input's
:class:`~primitives.domains.Domain` (signed logits up to large magnitudes, one-hot or binary targets, IoU
weights in (0, 1] and 1 for background, box areas with 0 <= i <= u <= e). The fingerprint hashes a loss's
values on a fixed, seeded sample of those domains, computed by the compiled module training runs
(:meth:`~gp_autoloss.loss.Loss.__call__`, the authors' eps included: ``y / y`` is 0 at ``y = 0``), in float64:
there two rewritings of one loss differ by rounding far below the digits kept (in float32 they would often
straddle a rounding boundary and be told apart).

"Agree" is :func:`same_values`: NaN where the other is NaN, +inf (or beyond float32's range, where training
overflows) where the other is, and finite values equal within a relative tolerance of :data:`RTOL` and an
absolute one of :data:`ATOL`. The fingerprint hashes the values rounded to :data:`SIGNIFICANT_DIGITS`
significant digits, magnitudes up to :data:`ATOL` as 0 and the non-finite classes as tokens, so ``a + b``
and ``b + a``, ``x * 1`` and ``x``, or ``y / y * l`` and ``l`` for binary ``y`` share one.

Equivalence needs evidence: a loss finite on fewer than :data:`MIN_FINITE` of the sample's points (NaN or
inf nearly everywhere, a loss no training survives) is fingerprinted with its own formula as well, so it is
never merged: where it is finite is too rare for the sample to tell two such losses apart.

Spaces with vectors are sampled at two class counts, so a formula that is constant for one number of
classes (``dot(1, 1) - 5``) is not merged with that constant.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from gp_autoloss.loss import Loss
from primitives import SearchSpace

__all__ = ["ATOL", "MIN_FINITE", "RTOL", "SIGNIFICANT_DIGITS", "domain_sample", "fingerprint", "fingerprint_values",
           "probe_inputs", "same_values", "values_on"]  # fmt: skip

#: digits the fingerprint keeps; equal fingerprints mean equal values to about this many digits
SIGNIFICANT_DIGITS = 6
#: relative tolerance of :func:`same_values` (a unit in the last kept digit is 10**(1 - digits) relative)
RTOL = 10.0 ** (1 - SIGNIFICANT_DIGITS)
#: magnitudes up to this are 0 (a loss value of 1e-14 trains like 0)
ATOL = 1e-9
#: the share of the sample's points on which a loss must be finite to be merged with another
MIN_FINITE = 0.1
#: beyond this float32 overflows: such values are +-inf in training
F32_MAX = float(np.finfo(np.float32).max)
#: samples per draw, and the class counts of spaces with vectors
SAMPLES = 256
CLASS_COUNTS = (5, 8)
_SEED = 12345

_CACHE: dict[str, tuple[SearchSpace, list[dict[str, torch.Tensor]]]] = {}


def domain_sample(space: SearchSpace, seed: int, samples: int = SAMPLES) -> list[dict[str, torch.Tensor]]:
    """Batches of inputs drawn from ``space``'s domains with ``seed``: one per class count if it has vectors."""
    gen = torch.Generator().manual_seed(seed)
    counts = CLASS_COUNTS if space.has_vectors else (1,)
    return [space.sample_inputs(samples, gen, classes=c) for c in counts]


def probe_inputs(space: SearchSpace) -> list[dict[str, torch.Tensor]]:
    """The fixed fingerprint sample of a space (float64 batches, built once per registered space)."""
    hit = _CACHE.get(space.name)
    if hit is None or hit[0] is not space:
        hit = _CACHE[space.name] = (space, domain_sample(space, _SEED))
    return hit[1]


def values_on(loss: Loss, batches: list[dict[str, torch.Tensor]]) -> np.ndarray:
    """The loss's values on ``batches``, flattened and concatenated (float64; raises what the loss raises)."""
    with torch.no_grad():
        return np.concatenate([loss(**inputs).reshape(-1).numpy() for inputs in batches])


def _classes(values: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf (or above float32's range), 3 -inf (or below)."""
    out = np.zeros(values.shape, dtype=np.int8)
    out[np.isnan(values)] = 1
    out[values > F32_MAX] = 2
    out[values < -F32_MAX] = 3
    return out


def same_values(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Elementwise: do ``a`` and ``b`` agree? (same non-finite class, or finite and close)."""
    ca, cb = _classes(a), _classes(b)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))
    return (ca == cb) & ((ca != 0) | close)


def fingerprint_values(values: np.ndarray) -> bytes:
    """The canonical bytes of a vector of loss values: non-finite classes, then rounded finite values."""
    cls = _classes(values)
    finite = np.where((cls == 0) & (np.abs(values) > ATOL), values, 0.0)
    mag = np.abs(finite)
    exponent = np.floor(np.log10(np.where(mag > 0, mag, 1.0))).astype(np.int64)
    mantissa = np.round(finite / 10.0 ** (exponent - (SIGNIFICANT_DIGITS - 1))).astype(np.int64)
    carry = np.abs(mantissa) >= 10**SIGNIFICANT_DIGITS  # 9.999996 rounds up to 10.0000: renormalise
    mantissa = np.where(carry, mantissa // 10, mantissa)
    exponent = np.where(carry, exponent + 1, exponent)
    exponent = np.where(mantissa == 0, 0, exponent)
    return cls.tobytes() + mantissa.tobytes() + exponent.tobytes()


def fingerprint(loss: Loss) -> str:
    """A short hash of ``loss``'s values on its space's domain sample (the canonical key if evaluation fails)."""
    try:
        values = values_on(loss, probe_inputs(loss.space))
    except Exception:  # noqa: BLE001 - any failure: fall back to syntactic identity
        return "key:" + hashlib.sha1(loss.key.encode()).hexdigest()[:20]
    text = loss.space.name.encode() + b"|" + fingerprint_values(values)
    if np.count_nonzero(np.abs(values) <= F32_MAX) < MIN_FINITE * values.size:
        text += b"|" + loss.key.encode()
    return hashlib.sha1(text).hexdigest()[:20]
