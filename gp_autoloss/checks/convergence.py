"""Convergence property verification (paper §3.2.2), one registered check per space.

A check takes an :class:`~gp_autoloss.checks.evaluation.Evaluation` (the loss's values and gradients on its
space's probe batch) and returns a :class:`CheckResult`. The built-in spaces all use :func:`curve_check`:
the loss must be monotone along the probe batch's :class:`~gp_autoloss.checks.probes.Curves`, change
overall from one end to the other, and (classification) have a gradient of the right sign whose magnitude
falls towards zero as the positive score grows. Register a check for a new space with::

    @register_convergence_check("my_space")
    def my_check(ev: Evaluation) -> CheckResult: ...

A space with no registered check passes with a reason that starts with :data:`NOT_CHECKED`, and the search's
funnel says "not checked" for it rather than counting its candidates as convergent. (A loss that does not
depend on the prediction fails the validness check in every space.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gp_autoloss.checks.evaluation import Evaluation, evaluate
from gp_autoloss.checks.probes import Curves
from gp_autoloss.checks.result import CheckResult
from gp_autoloss.loss import Loss
from primitives import Registry

__all__ = [
    "CONVERGENCE_CHECKS",
    "MIN_CHANGE",
    "NOT_CHECKED",
    "RTOL",
    "VANISH_RATIO",
    "ConvergenceCheck",
    "check_convergence",
    "convergence_of",
    "curve_check",
    "curve_diagnosis",
    "curve_screen",
    "has_convergence_check",
    "register_convergence_check",
]  # fmt: skip

NAME = "convergence"
#: what the funnel shows, and how the reason starts, for a space without a convergence check
NOT_CHECKED = "not checked"
#: relative tolerance of a gradient of the wrong sign (of the curve's largest gradient magnitude)
RTOL = 1e-9
#: a monotone curve must change by more than this (relative) from one end to the other
MIN_CHANGE = 1e-6
#: at the largest positive score, |dL/dscore| must be below this fraction of its maximum on the curve
VANISH_RATIO = 0.1

ConvergenceCheck = Callable[[Evaluation], CheckResult]

#: convergence checks by space name
CONVERGENCE_CHECKS: Registry[ConvergenceCheck] = Registry("convergence check")


def register_convergence_check(space: str, *, replace: bool = False) -> Callable[[ConvergenceCheck], ConvergenceCheck]:
    """Decorator registering the convergence check of ``space``."""

    def deco(fn: ConvergenceCheck) -> ConvergenceCheck:
        return CONVERGENCE_CHECKS.add(space, fn, replace=replace)

    return deco


def _fail(reason: str, **details: object) -> CheckResult:
    return CheckResult(NAME, False, reason, dict(details))


def _g(v: float) -> str:
    return f"{v:.4g}"


def _scale(values: np.ndarray) -> np.ndarray:
    return 1.0 + np.abs(values).max(axis=1, keepdims=True)


def _monotone(ev: Evaluation, c: Curves, values: np.ndarray) -> CheckResult | None:
    """Never the wrong way between neighbouring points (within ``c.rtol``)."""
    signed = values * c.signs  # the same expressions as _screen_values
    bad = ~(signed[:, 1:] - signed[:, :-1] >= -c.rtol * _scale(values))
    if bad.any():
        m, k = (int(a[0]) for a in np.nonzero(bad))
        verb = "falls" if c.direction[m] > 0 else "rises"
        return _fail(
            f"not monotone: the loss {verb} from {_g(values[m, k])} to {_g(values[m, k + 1])} as the "
            f"{c.param_name} goes from {_g(c.params[m, k])} to {_g(c.params[m, k + 1])} ({c.labels[m]})",
            property="monotonicity", curve=c.labels[m], at=[float(c.params[m, k]), float(c.params[m, k + 1])],
            loss=[float(values[m, k]), float(values[m, k + 1])], inputs=ev.probes.describe(int(c.rows[m, k + 1])),
        )
    return None


def _changes(c: Curves, values: np.ndarray) -> CheckResult | None:
    """Overall the right way: the far end differs from the start by more than :data:`MIN_CHANGE`."""
    signed = values * c.signs  # the same expressions as _screen_values
    flat = ~(signed[:, -1] - signed[:, 0] > MIN_CHANGE * _scale(values)[:, 0])
    if flat.any():
        m = int(np.flatnonzero(flat)[0])
        want = "increase" if c.direction[m] > 0 else "decrease"
        return _fail(
            f"the loss does not {want} along {c.labels[m]}: {_g(values[m, 0])} at {c.param_name} "
            f"{_g(c.params[m, 0])}, {_g(values[m, -1])} at {_g(c.params[m, -1])}",
            property="monotonicity", curve=c.labels[m], loss=[float(values[m, 0]), float(values[m, -1])],
        )
    return None


def _gradient(ev: Evaluation, c: Curves) -> CheckResult | None:
    assert ev.grads is not None and c.grad_input is not None and c.grad_index is not None
    grads = ev.grads[c.grad_input].reshape(-1)[c.grad_index]
    if not np.isfinite(grads).all():
        m, k = (int(a[0]) for a in np.nonzero(~np.isfinite(grads)))
        return _fail(
            f"dL/d{c.param_name} is {grads[m, k]} at {c.param_name} {_g(c.params[m, k])} ({c.labels[m]})",
            property="gradient", curve=c.labels[m], at=float(c.params[m, k]),
        )
    mags = np.abs(grads)
    gmax = mags.max(axis=1, keepdims=True)
    wrong = ~(grads * c.signs >= -(RTOL * gmax + 1e-300))
    if wrong.any():
        m, k = (int(a[0]) for a in np.nonzero(wrong))
        want = "decrease" if c.direction[m] < 0 else "increase"
        return _fail(
            f"not monotone: dL/d{c.param_name} = {_g(grads[m, k])} at {c.param_name} {_g(c.params[m, k])} "
            f"({c.labels[m]}); the loss must {want} there",
            property="monotonicity", curve=c.labels[m], at=float(c.params[m, k]), gradient=float(grads[m, k]),
        )
    if c.vanish is None or not c.vanish.any():
        return None
    sel = np.flatnonzero(c.vanish)
    tail = mags[sel, c.tail_start :]
    rising = ~(tail[:, 1:] - tail[:, :-1] <= RTOL * gmax[sel] + 1e-300)
    stuck = ~(mags[sel, -1] <= VANISH_RATIO * gmax[sel, 0])
    bad = rising.any(axis=1) | stuck
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        m = int(sel[j])
        params = c.params[m, c.tail_start :]
        return _fail(
            f"non-convergent: |dL/d{c.param_name}| does not fall to 0 as the {c.param_name} grows "
            f"({c.labels[m]}): {', '.join(f'{_g(g)} at {_g(s)}' for s, g in zip(params, tail[j]))}"
            f" (max {_g(gmax[m, 0])})",
            property="convergence", curve=c.labels[m], params=[float(s) for s in params],
            gradient_magnitudes=[float(g) for g in tail[j]], max_magnitude=float(gmax[m, 0]),
        )
    return None


def _screen_values(c: Curves, values: np.ndarray) -> tuple[bool, bool]:
    """Fast pass/fail of :func:`_monotone` and :func:`_changes` (the same conditions, fewer array ops)."""
    signed = values * c.signs
    scale = 1.0 + np.abs(values).max(axis=1, keepdims=True)
    monotone = bool((signed[:, 1:] - signed[:, :-1] >= -c.rtol * scale).all())
    changes = bool((signed[:, -1:] - signed[:, :1] > MIN_CHANGE * scale).all())
    return monotone, changes


def _screen_gradient(ev: Evaluation, c: Curves) -> bool:
    """Fast pass/fail of :func:`_gradient`."""
    assert ev.grads is not None and c.grad_input is not None and c.grad_index is not None
    grads = ev.grads[c.grad_input].reshape(-1)[c.grad_index]
    if not np.isfinite(grads).all():
        return False
    mags = np.abs(grads)
    gmax = mags.max(axis=1, keepdims=True)
    if not (grads * c.signs >= -(RTOL * gmax + 1e-300)).all():
        return False
    sel = c.vanish_index  # type: ignore[attr-defined]
    if not len(sel):
        return True
    tail = mags[sel, c.tail_start :]
    limit = gmax[sel]
    return bool((tail[:, 1:] - tail[:, :-1] <= RTOL * limit + 1e-300).all()) and bool(
        (tail[:, -1:] <= VANISH_RATIO * limit).all()
    )


def _preconditions(ev: Evaluation) -> CheckResult | None:
    """The verdict where the curves cannot be read (none, no values, no dependence, non-finite values)."""
    c = ev.probes.curves
    if c is None:
        return CheckResult(NAME, True, "no convergence curves in the probe batch")
    if ev.values is None:
        return _fail(ev.error or "evaluation failed", property="evaluation")
    if not ev.depends:
        wrt = ", ".join(ev.probes.wrt)
        return _fail(f"the loss does not depend on the prediction ({wrt})", property="dependence")
    values = ev.values[c.rows]
    if not np.isfinite(values).all():
        m = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        return _fail(f"the loss is not finite along {c.labels[m]}", property="finite", curve=c.labels[m])
    return None


def _passed(c: Curves) -> CheckResult:
    return CheckResult(NAME, True, "", {"curves": len(c.labels), "points": int(c.rows.size)})


def curve_screen(ev: Evaluation) -> bool:
    """The verdict of :func:`curve_diagnosis`, fast: the same conditions in the same order, fewer array
    operations, no messages, and the backward only for losses monotone along the curves."""
    pre = _preconditions(ev)
    if pre is not None:
        return pre.passed
    c = ev.probes.curves
    assert c is not None and ev.values is not None
    values = ev.values[c.rows]
    monotone, changes = _screen_values(c, values)
    if not monotone:
        return False
    if c.grad_input is not None:
        ev.backward()
        if ev.error or not _screen_gradient(ev, c):
            return False
    return changes


def curve_diagnosis(ev: Evaluation) -> CheckResult:
    """The curve conditions one by one, each failure with its message and details (see :func:`curve_check`)."""
    pre = _preconditions(ev)
    if pre is not None:
        return pre
    c = ev.probes.curves
    assert c is not None and ev.values is not None
    values = ev.values[c.rows]
    found = _monotone(ev, c, values)
    if found is not None:
        return found
    if c.grad_input is not None:
        ev.backward()
        if ev.error:
            return _fail(ev.error, property="evaluation")
        found = _gradient(ev, c)
        if found is not None:
            return found
    return _changes(c, values) or _passed(c)


def curve_check(ev: Evaluation) -> CheckResult:
    """The generic check of a probe batch's :class:`Curves` (used by every built-in space).

    In order: monotone between neighbouring points; (with a gradient reading) a finite gradient of the right
    sign at every point and its vanishing trend on the positive curves; an overall change from one end to
    the other. Most candidates fail, so the verdict comes from :func:`curve_screen`; a failure's reason from
    :func:`curve_diagnosis` (a property test holds the two to the same verdict on random trees).
    """
    if curve_screen(ev):
        c = ev.probes.curves
        return _passed(c) if c is not None else CheckResult(NAME, True, "no convergence curves in the probe batch")
    found = curve_diagnosis(ev)
    return found if not found.passed else _fail("convergence screen failed", property="screen")


def has_convergence_check(space: str) -> bool:
    """Whether ``space`` (a name) has a registered convergence check."""
    return space in CONVERGENCE_CHECKS


def convergence_of(ev: Evaluation) -> CheckResult:
    """Dispatch to the convergence check registered for the evaluation's space."""
    space = ev.probes.space
    if not has_convergence_check(space):
        return CheckResult(NAME, True, f"{NOT_CHECKED}: no convergence check registered for space {space!r}",
                           {"space": space, "checked": False})
    return CONVERGENCE_CHECKS[space](ev)


def check_convergence(loss: Loss) -> CheckResult:
    """Convergence property verification of ``loss`` in its space (see the module docstring).

    Classification (the paper's binary simplification): the loss falls monotonically as the positive
    class's score rises, rises with a negative class's score, and |dL/dscore| falls towards 0 as the
    positive score grows. Regression (distance-loss consistency): moving the predicted box away from the
    target never lowers the loss, and far away it is higher than at perfect overlap.
    """
    return convergence_of(evaluate(loss))
