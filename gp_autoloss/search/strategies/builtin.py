"""The three strategies of the paper's Table 5."""

from __future__ import annotations

import random
from collections.abc import Sequence

from gp_autoloss.loss import Loss
from gp_autoloss.search.strategies.base import SearchStrategy, register_strategy
from gp_autoloss.search.variation import Offspring

__all__ = ["RandomStrategy", "VanillaStrategy", "CseStrategy"]


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
