"""Multi-fidelity stages: successive halving over the proxy schedule (as Hyperband/ASHA do for hyperparameters).

The candidates that reach the first **rung** train a small part of the proxy schedule (``rung_1``: 1/9), the
best 1/η distinct losses go on to a larger part (``rung_2``: 1/3), and only the best 1/η of those pay the whole
proxy (``proxy_continued``). Each rung continues from the previous rung's weights (the jobs carry the loss's
state folder, see :mod:`gp_autoloss.fitness.budget`), so no step is trained twice: with η = 3, n candidates
cost n/9 + (n/3)(2/9) + (n/9)(2/3) ≈ 0.26 n full proxy trainings instead of n. In seconds each rung also pays
its own start-up and val pass: on fcos_tiny's default proxy a loss's whole chain cost 1.1-1.4x one plain proxy
(``benchmarks.search_real``, 2026-12-04), so halving saves time where its rungs stop many losses, not where a
generation sends one or two to the first rung.

A rung is a plain :class:`~gp_autoloss.search.stages.Stage` (an :class:`AdapterCall` at the budget's fidelity
and a :class:`TopFraction` selector), so a strategy lists them by name like any other stage, a resumed run
measures only the candidates a rung had not scored yet, and the funnel shows each rung's kept losses
(``rung_1_kept``) and its trainings (``rung_1_trained``). Build other rungs with :func:`rung_stage`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from gp_autoloss.fidelity import budget_fidelity, is_budget_fidelity
from gp_autoloss.search.records import Candidate, CandidateState
from gp_autoloss.search.stages.base import Counter, Selector, Stage, StageRun, register_stage
from gp_autoloss.search.stages.counters import distinct_kept, evaluation_counters
from gp_autoloss.search.stages.needs import AdapterCall
from gp_autoloss.search.stages.selectors import KeepPassing

__all__ = ["PROXY_CONTINUED", "RUNG_1", "RUNG_2", "TopFraction", "continued_proxy_stage", "rung_stage",
           "stages_need_budgets"]  # fmt: skip

#: the default halving rate: a rung keeps the best third
ETA = 3


class TopFraction(Selector):
    """Keep the best ``ceil(n / eta)`` of the ``n`` distinct losses scored by ``result`` (at least one), best
    first, with their equivalents, and every candidate whose ``free`` result it or an equivalent already has
    (it costs nothing more). A candidate without the metric failed; the others are rejected as
    ``rejected_as``."""

    def __init__(self, result: str, eta: int = ETA, label: str | None = None, rejected_as: str | None = None,
                 free: str = "proxy") -> None:  # fmt: skip
        if eta < 2:
            raise ValueError(f"a rung keeps 1/eta of its losses: eta must be at least 2, got {eta}")
        self.result = result
        self.eta = eta
        self.label = label or result
        self.rejected_as = rejected_as
        self.free = free

    def select(self, run: StageRun, stage: Stage, cands: list[Candidate]) -> list[Candidate]:
        scored: list[Candidate] = []
        for cand in cands:
            if cand.metric(self.result) is None:
                res = cand.results.get(self.result)
                run.set_state(cand, CandidateState.FAILED, self.result, res.reason if res is not None else "")
            else:
                scored.append(cand)
        scored.sort(key=lambda c: (-(c.metric(self.result) or 0.0), c.id))
        distinct = list(dict.fromkeys(c.fingerprint for c in scored))
        keep = max(1, math.ceil(len(distinct) / self.eta)) if distinct else 0
        chosen = set(distinct[:keep])
        cut = next((c.metric(self.result) for c in scored if c.fingerprint == distinct[keep - 1]), None) if keep else None
        kept = []
        for cand in scored:
            if cand.fingerprint in chosen or run.has_result(cand, self.free):
                kept.append(cand)
            else:
                run.set_state(cand, CandidateState.REJECTED, self.rejected_as or stage.name,
                              f"not in the top 1/{self.eta} ({keep} of {len(distinct)}) on {self.label}: "
                              f"{cand.metric(self.result):.4g} < {cut:.4g}")  # fmt: skip
        return kept


def rung_stage(name: str, budget: Fraction | str, eta: int = ETA, *, label: str | None = None) -> Stage:
    """A rung of successive halving: train ``budget`` of the proxy schedule (continuing from the loss's state
    folder), keep the best 1/``eta`` distinct losses. Not registered: pass it to :func:`register_stage`."""
    fidelity = budget_fidelity(budget)
    if not is_budget_fidelity(fidelity):
        raise ValueError(f"rung {name!r}: a rung trains part of the proxy (budget < 1); the full proxy is the last "
                         "stage, proxy_continued")  # fmt: skip
    label = label or f"proxy {fidelity.partition('@')[2]}"
    computed, _cached, failed = evaluation_counters(fidelity, label, failed_field=f"{name}_failed")
    trained = Counter(f"{name}_trained", f"{label} trained", computed.count, funnel=False, live=computed.live)
    return Stage(
        name, AdapterCall(fidelity, label, continues=True), TopFraction(fidelity, eta, label, rejected_as=name),
        counters=(trained, failed, distinct_kept(f"{name}_kept", f"{label} kept", fidelity, rejected_as=name)),
        doc=f"successive-halving rung: {label} of the proxy schedule (continued from the previous rung), the best "
            f"1/{eta} distinct losses go on",
    )  # fmt: skip


def continued_proxy_stage(name: str = "proxy_continued") -> Stage:
    """The last rung: the whole proxy schedule, continued from the loss's state folder; its ``proxy`` result is
    the fitness, as the plain ``proxy`` stage's is (same counters)."""
    return Stage(
        name, AdapterCall("proxy", continues=True), KeepPassing(),
        counters=evaluation_counters("proxy", "proxy", failed_field="failed"),
        doc="proxy-task evaluation continued from the last rung's training: the fitness parents are selected by",
    )  # fmt: skip


def stages_need_budgets(stages: Sequence[Stage]) -> list[str]:
    """The names of the stages that train part of the proxy schedule (they need an adapter with
    :attr:`~gp_autoloss.fitness.FitnessAdapter.supports_budget`; continuing the full proxy from a state folder
    does not: an adapter without budgets trains it from the start)."""
    return [s.name for s in stages if isinstance(s.need, AdapterCall) and is_budget_fidelity(s.need.fidelity)]


RUNG_1 = register_stage(rung_stage("rung_1", Fraction(1, 9)))
RUNG_2 = register_stage(rung_stage("rung_2", Fraction(1, 3)))
PROXY_CONTINUED = register_stage(continued_proxy_stage())
