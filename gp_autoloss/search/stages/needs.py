"""What the built-in stages measure: the probe checks, and adapter calls at a fidelity."""

from __future__ import annotations

import time
from collections.abc import Sequence

from gp_autoloss.search.records import Candidate, CandidateState, StageResult
from gp_autoloss.search.stages.base import Need, StageRun

__all__ = ["AdapterCall", "ProbeChecks"]


class ProbeChecks(Need):
    """The validness check and the convergence-property verification, one shared evaluation of the loss on
    its space's probes (:func:`gp_autoloss.checks.check`); results ``validness`` and ``convergence`` (metric
    1 or 0). A failed check rejects the candidate; a check that raises fails validness."""

    results = ("validness", "convergence")
    failure_state = CandidateState.REJECTED

    def measure(self, run: StageRun, cands: Sequence[Candidate]) -> None:
        from gp_autoloss.checks import check

        for cand in cands:
            done = cand.results.get("validness")
            if done is not None and not (done.ok and "convergence" not in cand.results):
                continue  # measured (a run killed between the two results measures again)
            start = time.perf_counter()
            try:
                verdict = check(cand.loss)
                outcomes = [("validness", verdict.validness.passed, verdict.validness.reason)]
                if verdict.convergence is not None:
                    outcomes.append(("convergence", verdict.convergence.passed, verdict.convergence.reason))
            except Exception as exc:  # noqa: BLE001 - a check that raises rejects the candidate
                outcomes = [("validness", False, f"check raised {type(exc).__name__}: {exc}")]
            seconds = (time.perf_counter() - start) / len(outcomes)
            for name, ok, reason in outcomes:
                run.record(cand, name, StageResult(ok, 1.0 if ok else 0.0, reason, seconds))


class AdapterCall(Need):
    """The fitness adapter at ``fidelity`` (``verify``: the D_verify simulation; ``proxy``: the proxy task;
    ``proxy@N/M``: that part of the proxy schedule), run through the executor; the result's metric is the
    adapter's score. ``label`` names it on progress bars. ``continues``: the jobs get the loss's state folder, so
    a budget continues from the previous rung's training (see :mod:`gp_autoloss.fitness.budget`)."""

    failure_state = CandidateState.FAILED

    def __init__(self, fidelity: str, label: str | None = None, continues: bool = False) -> None:
        from gp_autoloss.fidelity import parse_fidelity

        parse_fidelity(fidelity)  # a one-line ConfigError names a bad one
        self.fidelity = fidelity
        self.label = label or fidelity
        self.continues = continues
        self.results = (fidelity,)

    def measure(self, run: StageRun, cands: Sequence[Candidate]) -> None:
        if self.continues:
            run.evaluate(cands, self.fidelity, self.label, continues=True)
        else:
            run.evaluate(cands, self.fidelity, self.label)

    def __repr__(self) -> str:
        return f"AdapterCall({self.fidelity!r}{', continues=True' if self.continues else ''})"
