"""Cheap checks of candidate losses (paper §3.2): computational validness and convergence properties.

>>> from gp_autoloss import check, parse
>>> verdict = check(parse("1 - i / u", "iou_reg"))
>>> verdict.passed, verdict.reason
(True, '')

Every check of a space reads one cached probe batch (:func:`get_probes`) evaluated with one batched
forward and one backward. Extend with :func:`register_probes` and :func:`register_convergence_check`.
"""

from gp_autoloss.checks import classification as _classification  # noqa: F401  (registers its spaces)
from gp_autoloss.checks import regression as _regression  # noqa: F401
from gp_autoloss.checks.convergence import (
    CONVERGENCE_CHECKS,
    NOT_CHECKED,
    ConvergenceCheck,
    check_convergence,
    convergence_of,
    curve_check,
    has_convergence_check,
    register_convergence_check,
)
from gp_autoloss.checks.evaluation import Evaluation, evaluate, evaluate_tree
from gp_autoloss.checks.pipeline import check
from gp_autoloss.checks.probes import (
    PROBE_BUILDERS,
    Curves,
    ProbeGroup,
    ProbeSet,
    build_probe_set,
    default_probes,
    get_probes,
    register_probes,
)
from gp_autoloss.checks.result import CheckResult, Verdict
from gp_autoloss.checks.validness import check_validness, validness_of

__all__ = [
    "CONVERGENCE_CHECKS",
    "NOT_CHECKED",
    "PROBE_BUILDERS",
    "CheckResult",
    "ConvergenceCheck",
    "Curves",
    "Evaluation",
    "ProbeGroup",
    "ProbeSet",
    "Verdict",
    "build_probe_set",
    "check",
    "check_convergence",
    "check_validness",
    "convergence_of",
    "curve_check",
    "default_probes",
    "evaluate",
    "evaluate_tree",
    "get_probes",
    "has_convergence_check",
    "register_convergence_check",
    "register_probes",
    "validness_of",
]  # fmt: skip
