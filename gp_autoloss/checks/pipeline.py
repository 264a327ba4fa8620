"""``check(loss)``: the cheap stages of the search, in order, on one shared evaluation."""

from __future__ import annotations

from gp_autoloss.checks.convergence import convergence_of
from gp_autoloss.checks.evaluation import evaluate
from gp_autoloss.checks.result import Verdict
from gp_autoloss.checks.validness import TRAINING_DTYPE, validness_of
from gp_autoloss.loss import Loss

__all__ = ["check"]


def check(loss: Loss) -> Verdict:
    """Validness, then (if valid) convergence property verification, from one forward and one backward.

    The float32 pass of validness (see :mod:`gp_autoloss.checks.validness`) runs last, for candidates that
    passed everything else; a failure there is reported as a validness failure, as if it had run first.
    Only a candidate that fails both convergence and float32 validness is attributed differently (to
    convergence) than a strict validness-first order would.

    >>> from gp_autoloss import parse
    >>> check(parse("-dot(y, log(softmax(x)))", "softmax_cls")).passed
    True
    >>> verdict = check(parse("-dot(y, x)", "softmax_cls"))
    >>> verdict.failed_check, verdict.reason.split(":")[0]
    ('convergence', 'non-convergent')
    """
    ev = evaluate(loss)
    validness = validness_of(ev)
    if not validness.passed:
        return Verdict(False, validness, None)
    convergence = convergence_of(ev)
    if not convergence.passed:
        return Verdict(False, validness, convergence)
    # the float32 half of validness, deferred: only candidates that passed everything else need it
    validness = validness_of(evaluate(loss, ev.probes, TRAINING_DTYPE))
    if not validness.passed:
        return Verdict(False, validness, None)
    return Verdict(True, validness, convergence)
