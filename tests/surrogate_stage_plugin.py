"""The worked example of docs/extending.md ('A search stage'), as a plugin: a stage that ranks candidates by a
cheap surrogate and keeps the better half, and a strategy that puts it before the proxy evaluation.
``tests/test_search_stages.py`` checks that the page shows this code and runs it."""

from gp_autoloss.search import CandidateState, Need, Selector, Stage, StageResult, register_stage, register_strategy
from gp_autoloss.search.stages import distinct_kept
from gp_autoloss.search.strategies import VanillaStrategy


class TreeSize(Need):
    """A surrogate of fitness that costs nothing: smaller trees score higher."""

    results = ("surrogate",)  # the result it stores (results.stage in the run file)

    def measure(self, run, cands):
        for cand in cands:
            if "surrogate" not in cand.results:  # a resumed run has some already
                run.record(cand, "surrogate", StageResult(ok=True, metric=-float(cand.loss.size)))


class BetterHalf(Selector):
    """Keep the better half by the surrogate, best first; reject the rest."""

    def select(self, run, stage, cands):
        ranked = sorted(cands, key=lambda c: (-c.metric("surrogate"), c.id))
        kept = ranked[: (len(ranked) + 1) // 2]
        for cand in ranked[len(kept):]:
            run.set_state(cand, CandidateState.REJECTED, "surrogate", "not in the better half by tree size")
        return kept


register_stage(Stage(
    "surrogate_half", TreeSize(), BetterHalf(),
    counters=(distinct_kept("surrogate_kept", "surrogate: better half", "surrogate", rejected_as="surrogate"),),
))


@register_strategy("vanilla_half")
class HalfVanilla(VanillaStrategy):
    """Vanilla evolution that proxy-evaluates only the better half of each generation by the surrogate."""

    stages = ("surrogate_half", "proxy")
