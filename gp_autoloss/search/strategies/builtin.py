"""The three strategies of the paper's Table 5, and their successive-halving variants (``cse_sh``, ``vanilla_sh``)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from gp_autoloss.loss import Loss
from gp_autoloss.search.strategies.base import SearchStrategy, register_strategy
from gp_autoloss.search.variation import Offspring

__all__ = ["RandomStrategy", "VanillaStrategy", "CseStrategy", "CseHalvingStrategy", "VanillaHalvingStrategy"]


@register_strategy("random")
class RandomStrategy(SearchStrategy):
    """Random search: N random trees per generation, every one proxy-evaluated."""

    stages = ("proxy",)

    def propose(self, generation: int, parents: Sequence[tuple[Loss, float]], rng: random.Random,
                known: set[str]) -> list[Offspring]:  # fmt: skip
        return self.breeder.random(self.population, rng, known)


@register_strategy("vanilla")
class VanillaStrategy(SearchStrategy):
    """Vanilla evolution: tournament selection, crossover p1, mutation p2; all offspring proxy-evaluated.

    Generation 0 is evolved from the initial loss L_I.
    """

    stages = ("proxy",)

    def propose(self, generation: int, parents: Sequence[tuple[Loss, float]], rng: random.Random,
                known: set[str]) -> list[Offspring]:  # fmt: skip
        return self.breeder.breed(parents, self.population, rng, known)


@register_strategy("cse")
class CseStrategy(VanillaStrategy):
    """CSE-Autoloss (Algorithm 1): evolution whose offspring pass validness, convergence verification and
    D_verify simulation against the previous generation's top loss before the top-K go to the proxy task."""

    stages = (
        "checks",  # validness check and convergence-property verification on the probes
        "verify",  # D_verify simulation; kept: at least the previous generation's top loss
        "top_k",  # the K best distinct losses on D_verify
        "proxy",  # proxy-task evaluation: the fitness
    )


@register_strategy("vanilla_sh")
class VanillaHalvingStrategy(VanillaStrategy):
    """Vanilla evolution whose offspring pass successive halving over the proxy schedule instead of each paying
    the whole proxy: all train 1/9 of it, the best third continue to 1/3, the best third of those to the end
    (:mod:`gp_autoloss.search.stages.halving`). Needs an adapter with proxy budgets."""

    stages = ("rung_1", "rung_2", "proxy_continued")


@register_strategy("cse_sh")
class CseHalvingStrategy(VanillaStrategy):
    """CSE-Autoloss with a multi-fidelity stage: the offspring that pass the checks and the D_verify simulation
    go through successive halving (1/9, 1/3, then the whole proxy, each continuing the previous rung's training)
    instead of the top-K each paying the whole proxy. Needs an adapter with proxy budgets."""

    stages = (
        "checks",  # validness check and convergence-property verification on the probes
        "verify",  # D_verify simulation; kept: at least the previous generation's top loss
        "rung_1",  # 1/9 of the proxy schedule; the best third go on
        "rung_2",  # continued to 1/3; the best third go on
        "proxy_continued",  # continued to the whole proxy: the fitness
    )
