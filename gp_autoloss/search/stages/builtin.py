"""The built-in stages: ``checks``, ``verify`` (D_verify against the parents), ``top_k`` and ``proxy``."""

from __future__ import annotations

from typing import Any

from gp_autoloss.checks.convergence import NOT_CHECKED, has_convergence_check
from gp_autoloss.search.stages.base import Counter, Stage, StageOutcome, register_stage
from gp_autoloss.search.stages.counters import distinct_kept, distinct_passed, evaluation_counters
from gp_autoloss.search.stages.needs import AdapterCall, ProbeChecks
from gp_autoloss.search.stages.selectors import AboveParents, KeepPassing, TopDistinct

__all__ = ["CHECKS", "PROXY", "TOP_K", "VERIFY"]


def _convergent(o: StageOutcome) -> int | str:
    """Distinct losses found convergent; "not checked" where the space has no convergence check."""
    if not has_convergence_check(o.run.space.name):
        return NOT_CHECKED
    return len({c.fingerprint for c in o.kept})


def _live_convergent(rows: list[dict[str, Any]]) -> int | str:
    if any(str(c.get("convergence_reason") or "").startswith(NOT_CHECKED) for c in rows):
        return NOT_CHECKED
    return sum(1 for c in rows if c.get("convergence_ok"))


CHECKS = register_stage(Stage(
    "checks", ProbeChecks(), KeepPassing(),
    counters=(distinct_passed("valid", "valid", "validness"),
              Counter("convergent", "convergent", _convergent, live=_live_convergent)),
    doc="validness check and convergence-property verification on the probes; failures are rejected",
))  # fmt: skip

VERIFY = register_stage(Stage(
    "verify", AdapterCall("verify", "D_verify"), AboveParents("verify", "D_verify"),
    counters=(distinct_kept("verify_passed", "D_verify passed", "verify", rejected_as="threshold"),),
    doc="model-optimization simulation on D_verify; kept: at least the top parent's metric (minus verify_margin)",
))  # fmt: skip

TOP_K = register_stage(Stage(
    "top_k", None, TopDistinct(free="proxy", by="D_verify"),
    doc="the top-K distinct losses by the previous stage's ranking go on (K: the config's top_k)",
))  # fmt: skip

PROXY = register_stage(Stage(
    "proxy", AdapterCall("proxy"), KeepPassing(), counters=evaluation_counters("proxy", "proxy", failed_field="failed"),
    doc="proxy-task evaluation: the fitness parents are selected by",
))  # fmt: skip
