"""The :class:`Stage` extension point: one step of a generation's funnel.

A stage is a name plus three parts:

* what it **needs** (:class:`Need`): the results it measures for the candidates that reach it -- a check on
  the probes, an adapter call at a fidelity (``verify``, ``proxy``) run through the executor, a surrogate, or
  nothing (a stage that only selects);
* how it **selects** (:class:`Selector`): which candidates go on, in which order; the others get their final
  state (rejected or failed) and the deciding stage;
* its funnel **counters** (:class:`Counter`): the numbers it adds to the generation's statistics (and so to the
  report's funnel table, paper Table 2).

A strategy lists its stages; the engine runs them in order on each generation, keeps the books (run file,
equivalent candidates sharing a result, the result cache, resume) and never looks at a stage's name. Stages
are registered by name (:func:`register_stage`) so a plugin can add one and a strategy can name it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gp_autoloss.search.records import Candidate, CandidateState, StageResult
from primitives import Registry

if TYPE_CHECKING:
    from gp_autoloss.search.config import SearchConfig
    from primitives import SearchSpace

__all__ = ["Counter", "Need", "SEARCH_STAGES", "Selector", "Stage", "StageOutcome", "StageRun", "register_stage",
           "resolve_stages"]  # fmt: skip


class StageRun(ABC):
    """What the engine offers a stage while it runs on one generation (implemented by the engine).

    Attributes:
        generation: the generation number (``-1`` while the initial loss L_I is measured).
        parents: the generation's parents, best fitness first (empty for L_I).
        config: the run's settings.
        space: the search space.
        threshold: set by a stage that selects against a threshold; stored with the generation.
    """

    generation: int
    parents: Sequence[Candidate]
    config: SearchConfig
    space: SearchSpace
    threshold: float | None = None

    @abstractmethod
    def record(self, cand: Candidate, name: str, result: StageResult) -> None:
        """Store ``result`` as ``cand``'s result ``name`` (in the run file and on ``cand.results``)."""

    @abstractmethod
    def evaluate(self, cands: Sequence[Candidate], fidelity: str, label: str, continues: bool = False) -> None:
        """Score the candidates that lack result ``fidelity`` with the adapter at that fidelity (``verify``,
        ``proxy``, a proxy budget ``proxy@N/M``) through the executor: equivalent candidates share one job, a
        result an equivalent loss already has is reused (``cached``). ``label`` names the work on the progress
        bar. ``continues``: the adapter keeps what it trains in the loss's state folder and continues from what
        a smaller budget left there (see :mod:`gp_autoloss.fitness.budget`)."""

    @abstractmethod
    def set_state(self, cand: Candidate, state: CandidateState, stage: str, reason: str = "") -> None:
        """Give ``cand`` its final ``state``, decided by ``stage`` (stored in ``candidates.stage``)."""

    @abstractmethod
    def has_result(self, cand: Candidate, name: str) -> bool:
        """Does ``cand``, or an equivalent loss, already have a computed result ``name``?"""


class Need(ABC):
    """What a stage measures for the candidates that reach it.

    Attributes:
        results: the result names it stores (``results.stage`` in the run file), in order.
        failure_state: the state of a candidate whose result is not ``ok`` (a failed check rejects it; an
            evaluation that could not score it fails it).
    """

    results: tuple[str, ...] = ()
    failure_state: CandidateState = CandidateState.FAILED

    @abstractmethod
    def measure(self, run: StageRun, cands: Sequence[Candidate]) -> None:
        """Record this need's results for the candidates that lack them (a resumed run finds some done)."""


class Selector(ABC):
    """How a stage picks the candidates that go on."""

    @abstractmethod
    def select(self, run: StageRun, stage: Stage, cands: list[Candidate]) -> list[Candidate]:
        """The candidates that go on, in the order the next stage should see them (best first where it ranks);
        every other one gets its final state through ``run.set_state``."""


@dataclass(frozen=True)
class StageOutcome:
    """What a counter counts: the candidates that entered a stage and those it kept."""

    run: StageRun
    entered: list[Candidate]
    kept: list[Candidate]


#: a function over the generation's candidates as stored (rows of ``RunStorage.results_table``): the counter's
#: value for a generation still in progress
LiveCount = Callable[[list[dict[str, Any]]], Any]


@dataclass(frozen=True)
class Counter:
    """One number a stage adds to the generation's statistics.

    Attributes:
        field: its key in the generation's ``stats`` (and the report's funnel row).
        label: its column heading in the report.
        count: computes it when the stage has run.
        funnel: a count of candidates left after the stage (a bar of the funnel chart); ``False`` for a side
            count (e.g. results taken from the cache).
        live: counts it from the run file for a generation in progress (``None``: shown as unknown).
    """

    field: str
    label: str
    count: Callable[[StageOutcome], Any]
    funnel: bool = True
    live: LiveCount | None = None


@dataclass(frozen=True)
class Stage:
    """One step of the funnel: a name, what it needs, how it selects, its counters."""

    name: str
    need: Need | None
    selector: Selector
    counters: tuple[Counter, ...] = ()
    doc: str = ""

    @property
    def results(self) -> tuple[str, ...]:
        """The result names this stage stores."""
        return self.need.results if self.need is not None else ()

    def measure(self, run: StageRun, cands: Sequence[Candidate]) -> None:
        """Record what the stage needs for ``cands`` (no selection: the initial loss is only measured)."""
        if self.need is not None:
            self.need.measure(run, cands)

    def run(self, run: StageRun, cands: list[Candidate]) -> tuple[list[Candidate], dict[str, Any]]:
        """Measure, select; the candidates that go on and this stage's counts."""
        self.measure(run, cands)
        kept = self.selector.select(run, self, cands)
        outcome = StageOutcome(run, list(cands), kept)
        return kept, {c.field: c.count(outcome) for c in self.counters}


SEARCH_STAGES: Registry[Stage] = Registry("search stage")


def register_stage(stage: Stage, *, replace: bool = False) -> Stage:
    """Register ``stage`` under its name, so a strategy can list it by name; returns it."""
    if not isinstance(stage, Stage):
        raise TypeError(f"register_stage takes a Stage, not {type(stage).__name__}")
    return SEARCH_STAGES.add(stage.name, stage, replace=replace)


def resolve_stages(stages: Sequence[str | Stage]) -> list[Stage]:
    """The stages a strategy lists: registered names looked up, :class:`Stage` objects as they are."""
    return [s if isinstance(s, Stage) else SEARCH_STAGES.get(s) for s in stages]
