"""The :class:`SearchStrategy` extension point.

A strategy decides how a generation's candidates are made (:meth:`SearchStrategy.propose`) and which
filters they pass before the expensive proxy evaluation (the flags). The engine runs the stages, keeps
the books and picks the parents.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence

from gp_autoloss.loss import Loss
from gp_autoloss.search.variation import Breeder, Offspring
from primitives import Registry

__all__ = ["SearchStrategy", "STRATEGIES", "register_strategy"]


class SearchStrategy(ABC):
    """How one generation is made and filtered.

    Attributes:
        checks: run the validness check and convergence-property verification, drop failures.
        simulate: run the D_verify model-optimization simulation, keep those at or above the threshold,
            and proxy-evaluate only the top-K of them.
    """

    name = ""
    checks = False
    simulate = False

    def __init__(self, breeder: Breeder, population: int) -> None:
        self.breeder = breeder
        self.population = population

    @abstractmethod
    def propose(self, generation: int, parents: Sequence[tuple[Loss, float]], rng: random.Random,
                known: set[str]) -> list[Offspring]:  # fmt: skip
        """The new candidates of ``generation`` (keys not in ``known``)."""


STRATEGIES: Registry[type[SearchStrategy]] = Registry("strategy")


def register_strategy(name: str):  # type: ignore[no-untyped-def]
    """Class decorator registering a strategy."""

    def deco(cls: type[SearchStrategy]) -> type[SearchStrategy]:
        cls.name = name
        STRATEGIES.add(name, cls)
        return cls

    return deco
