"""The :class:`SearchStrategy` extension point.

A strategy is how a generation's candidates are made (:meth:`SearchStrategy.propose`) and the list of stages
they pass (:attr:`SearchStrategy.stages`, see :mod:`gp_autoloss.search.stages`). The engine runs the stages,
keeps the books and picks the parents by the last stage's metric.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from gp_autoloss.loss import Loss
from gp_autoloss.search.stages import Stage, resolve_stages
from gp_autoloss.search.variation import Breeder, Offspring
from primitives import Registry

__all__ = ["SearchStrategy", "STRATEGIES", "register_strategy"]


class SearchStrategy(ABC):
    """How one generation is made, and the stages it passes.

    Attributes:
        stages: the funnel, in order: registered stage names or :class:`~gp_autoloss.search.stages.Stage`
            objects. The last stage's (last) result is the fitness: the metric parents are selected by.
    """

    name = ""
    stages: ClassVar[Sequence[str | Stage]] = ("proxy",)

    def __init__(self, breeder: Breeder, population: int) -> None:
        self.breeder = breeder
        self.population = population

    @classmethod
    def pipeline(cls) -> list[Stage]:
        """The strategy's stages as :class:`Stage` objects (a ``KeyError`` names an unregistered one)."""
        stages = resolve_stages(cls.stages)
        if not stages or not stages[-1].results:
            raise ValueError(f"strategy {cls.name or cls.__name__}: the last stage must measure the fitness")
        return stages

    @classmethod
    def fitness(cls) -> str:
        """The result parents are selected by: the last stage's last result (``proxy`` for the built-ins)."""
        return cls.pipeline()[-1].results[-1]

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
