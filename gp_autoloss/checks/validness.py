"""Computational validness (paper §3.2.1): no NaN or ±inf in the loss or its gradient on any probe point.

Two passes over the same probe points:

* float64, the precision of every check: a value or gradient beyond float32's finite range (about 3.4e38)
  counts as ±inf, since float32 training would overflow there;
* float32, the precision detectors train in: intermediate results overflow there even when the float64
  result is finite. Measured on random ``iou_reg`` trees that pass every float64 check, about one in five
  has a NaN gradient in float32 -- ``tanh(e / i)`` at disjoint boxes: ``d(e/i)/di = -e / 1e-40`` is inf,
  times ``tanh' = 0`` gives NaN.

:func:`~gp_autoloss.checks.pipeline.check` runs the float32 pass last, only for candidates that passed
everything else (the verdict is the same; most candidates never need it).

The gradient is taken with respect to the space's prediction inputs only (``x`` for classification;
``i``, ``u``, ``e`` for regression; see :attr:`~primitives.spaces.SearchSpace.prediction_inputs`), never the
targets or the detached IoU weight ``w``. A loss whose gradient with respect to every prediction input is 0
at every probe point (``w``, ``x - x``, ``relu(-abs(x))``) trains nothing: it is invalid in every space,
whether or not the space has a convergence check.
"""

from __future__ import annotations

import numpy as np
import torch

from gp_autoloss.checks.evaluation import F32_MAX, Evaluation, evaluate, in_range
from gp_autoloss.checks.result import CheckResult
from gp_autoloss.loss import Loss

__all__ = ["check_validness", "validness_of", "TRAINING_DTYPE"]

#: the precision of the second validness pass
TRAINING_DTYPE = torch.float32

NAME = "validness"


def _badness(arr: np.ndarray) -> np.ndarray:
    """Boolean mask of entries that are NaN, ±inf or beyond float32's range."""
    return ~(np.abs(arr) <= F32_MAX)


def _kind(v: float) -> str:
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.3g}, beyond float32's range"


def _failure(ev: Evaluation, what: str, arr: np.ndarray, bad: np.ndarray) -> CheckResult:
    p = ev.probes
    flat = np.flatnonzero(bad.reshape(-1))
    first = int(flat[0])
    per_row = arr.size // p.rows
    row = first // per_row
    value = float(arr.reshape(-1)[first])
    bad_rows = np.unique(flat // per_row)
    groups = [p.groups[int(k)].label for k in p.groups_of(bad_rows)]
    precision = " in float32" if ev.dtype == TRAINING_DTYPE else ""
    reason = f"{what} is {_kind(value)}{precision} at {p.where(row)}"
    details = {
        "stage": what,
        "dtype": str(ev.dtype).replace("torch.", ""),
        "value": None if not np.isfinite(value) else value,
        "value_kind": _kind(value).split(",")[0],
        "probe": p.group_of(row).label,
        "inputs": p.describe(row),
        "bad_points": len(bad_rows),
        "points": p.rows,
        "bad_groups": groups,
    }
    return CheckResult(NAME, False, reason, details)


def validness_of(ev: Evaluation) -> CheckResult:
    """Validness of an evaluated loss: forward values first, then (computing it if needed) the gradient."""
    p = ev.probes
    if ev.values is None:
        return CheckResult(NAME, False, ev.error or "evaluation failed", {"stage": "value", "error": ev.error})
    if not in_range(ev.values):
        return _failure(ev, "value", ev.values, _badness(ev.values))
    if not ev.depends:  # no path from a prediction input to the loss
        return _independent(ev, "the loss does not depend on the prediction")
    ev.backward()
    if ev.error:
        return CheckResult(NAME, False, ev.error, {"stage": "gradient", "error": ev.error})
    assert ev.grads is not None
    for name in p.wrt:
        g = ev.grads[name]
        if not in_range(g):
            return _failure(ev, f"gradient w.r.t. {name}", g, _badness(g))
    if not any(np.any(ev.grads[name]) for name in p.wrt):
        return _independent(ev, "the loss does not depend on the prediction: its gradient is 0 at every probe point")
    return CheckResult(NAME, True, "", {"points": p.rows})


def _independent(ev: Evaluation, what: str) -> CheckResult:
    wrt = ", ".join(ev.probes.wrt)
    precision = " in float32" if ev.dtype == TRAINING_DTYPE else ""
    return CheckResult(NAME, False, f"{what} ({wrt}){precision}",
                       {"stage": "dependence", "dtype": str(ev.dtype).replace("torch.", ""), "wrt": list(ev.probes.wrt),
                        "points": ev.probes.rows})  # fmt: skip


def check_validness(loss: Loss) -> CheckResult:
    """No NaN/±inf (or float32 overflow) in the loss value or its gradient, in float64 and in float32.

    The inputs are the space's probe batch (:func:`~gp_autoloss.checks.probes.get_probes`): e.g. logits
    up to ±50, IoU weights from 1e-7 to 1, disjoint, touching, tiny, huge and identical boxes.
    """
    result = validness_of(evaluate(loss))
    if not result.passed:
        return result
    return validness_of(evaluate(loss, dtype=TRAINING_DTYPE))
