"""How the built-in stages select: keep what passed, keep what beats the parents, keep the top-K."""

from __future__ import annotations

from gp_autoloss.search.records import Candidate, CandidateState
from gp_autoloss.search.stages.base import Selector, Stage, StageRun

__all__ = ["KeepPassing", "AboveParents", "TopDistinct"]


class KeepPassing(Selector):
    """Keep the candidates whose every result of the stage is ``ok``, in their order. The first result that is
    not ok gives the candidate the need's failure state, named after that result."""

    def select(self, run: StageRun, stage: Stage, cands: list[Candidate]) -> list[Candidate]:
        failure = stage.need.failure_state if stage.need is not None else CandidateState.REJECTED
        kept = []
        for cand in cands:
            for name in stage.results:
                res = cand.results.get(name)
                if res is None or not res.ok:
                    if res is not None:
                        run.set_state(cand, failure, name, res.reason)
                    break
            else:
                kept.append(cand)
        return kept


class AboveParents(Selector):
    """Keep the candidates whose ``result`` metric is at least the top parent's minus the config's
    ``verify_margin`` (Algorithm 1's D_verify simulation against the previous generation's top loss), best
    first. The threshold is stored with the generation; a candidate without the metric failed; one below it is
    rejected as ``rejected_as``."""

    def __init__(self, result: str, label: str, rejected_as: str = "threshold") -> None:
        self.result = result
        self.label = label
        self.rejected_as = rejected_as

    def select(self, run: StageRun, stage: Stage, cands: list[Candidate]) -> list[Candidate]:
        threshold = run.parents[0].metric(self.result) if run.parents else None
        run.threshold = threshold
        passing = []
        for cand in cands:
            metric = cand.metric(self.result)
            if metric is None:
                res = cand.results.get(self.result)
                run.set_state(cand, CandidateState.FAILED, self.result, res.reason if res is not None else "")
            elif threshold is not None and metric < threshold - run.config.verify_margin:
                run.set_state(cand, CandidateState.REJECTED, self.rejected_as,
                              f"{self.label} metric below the top loss's ({metric:.4g} < {threshold:.4g})")  # fmt: skip
            else:
                passing.append(cand)
        passing.sort(key=lambda c: (-(c.metric(self.result) or 0.0), c.id))
        return passing


class TopDistinct(Selector):
    """Keep the first ``k`` distinct losses (fingerprints) in the order the previous stage ranked them (``k``:
    the config's ``top_k`` unless given), plus every candidate whose ``free`` result it or an equivalent already
    has (it costs nothing) and the equivalents of the chosen (they share the job). The rest is rejected as
    ``rejected_as``, ranked ``by`` what the reason names."""

    def __init__(self, free: str, by: str, k: int | None = None, rejected_as: str = "top_k") -> None:
        self.free = free
        self.by = by
        self.k = k
        self.rejected_as = rejected_as

    def select(self, run: StageRun, stage: Stage, cands: list[Candidate]) -> list[Candidate]:
        k = self.k if self.k is not None else run.config.top_k
        chosen: set[str] = set()
        kept = []
        for cand in cands:
            if cand.fingerprint in chosen or run.has_result(cand, self.free):
                kept.append(cand)
            elif len(chosen) < k:
                chosen.add(cand.fingerprint)
                kept.append(cand)
            else:
                run.set_state(cand, CandidateState.REJECTED, self.rejected_as, f"not in the top {k} on {self.by}")
        return kept
