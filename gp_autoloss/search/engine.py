"""The search engine: runs a strategy generation by generation and keeps every result in the run file.

Per generation (Algorithm 1):

1. the strategy proposes N new candidates (generation 0 evolves them from the initial loss L_I);
2. they pass the strategy's stages in order (:mod:`gp_autoloss.search.stages`): each measures what it needs
   (equivalent candidates, same probe fingerprint, share every result) and selects who goes on -- ``cse``:
   checks, D_verify against the previous generation's top loss, top-K, proxy;
3. the top-P of parents and new candidates by the last stage's metric become the next parents;
4. subscribers hear of the finished generation (:meth:`SearchEngine.subscribe`; the CLI's live report).

The initial loss is measured by every stage and selected by none. Resuming re-creates the first unfinished
generation from its saved RNG state; finished evaluations come from the run file, so nothing is lost or
repeated and the run ends where an uninterrupted one ends.

A run has one writer at a time (:class:`~gp_autoloss.search.lock.RunLock`), and resuming never runs code that
the run file names (:mod:`gp_autoloss.search.resume`).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gp_autoloss.errors import ConfigError
from gp_autoloss.execution import Executor, create_executor
from gp_autoloss.execution.base import AdapterSpec
from gp_autoloss.known import resolve_initial
from gp_autoloss.loss import parse, resolve_space
from gp_autoloss.plugins import load_plugins, loaded_plugins, plugins_used_by
from gp_autoloss.search.books import GenerationRun, ProgressFactory, RunBooks
from gp_autoloss.search.config import PLUGIN_HINT, SearchConfig
from gp_autoloss.search.events import EventBus, GenerationEvent, Subscriber
from gp_autoloss.search.lock import RunLock
from gp_autoloss.search.records import Candidate, CandidateState
from gp_autoloss.search.resume import resume_config
from gp_autoloss.search.rng import state_from_json, state_to_json
from gp_autoloss.search.stages import Stage
from gp_autoloss.search.stages.funnel import columns_to_json, funnel_columns
from gp_autoloss.search.storage import RunStorage
from gp_autoloss.search.strategies import STRATEGIES, SearchStrategy
from gp_autoloss.search.summary import SearchSummary, run_summary
from gp_autoloss.search.variation import Breeder, Offspring

__all__ = ["SearchEngine", "SearchSummary", "Candidate"]

log = logging.getLogger("gp_autoloss.search")


class SearchEngine:
    """Drives one run: ``SearchEngine.create(config, run_dir).run()``; see :meth:`open` to resume."""

    def __init__(self, config: SearchConfig, run_dir: str | Path, *, storage: RunStorage,
                 progress: ProgressFactory | None = None, lock: RunLock | None = None) -> None:  # fmt: skip
        self.config = config
        self.run_dir = Path(run_dir)
        self.storage = storage
        self.lock = lock
        self.space = resolve_space(config.space)
        self.breeder = Breeder(self.space, max_depth=config.max_depth, max_size=config.max_size,
                               p_crossover=config.p_crossover, p_mutation=config.p_mutation,
                               tournament_size=config.tournament_size)  # fmt: skip
        self.strategy: SearchStrategy = STRATEGIES.get(config.strategy)(self.breeder, config.population)
        self.stages = _stages_of(config.strategy)
        self.fitness = self.stages[-1].results[-1]
        self._executor: Executor | None = None
        self.books = RunBooks(storage, lambda: self.executor, config.seed, progress)
        self.events = EventBus()

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: SearchConfig, run_dir: str | Path, **kwargs: Any) -> SearchEngine:
        """Start a new run in ``run_dir``, holding its writer lock until :meth:`close`.

        ``config.plugins`` are imported first (the caller named them: a plugin may register the adapter or
        strategy named); the run records them plus the installed plugins that registered what it uses.
        """
        config.check_values()  # types first: plugins="os" must not be imported letter by letter
        load_plugins(config.plugins, source="plugins setting")
        config.validate()
        _stages_of(config.strategy)
        _check_adapter(config)
        used = plugins_used_by(config.space, config.adapter, config.strategy, config.executor)
        config.plugins = list(dict.fromkeys([*config.plugins, *used]))
        run_dir = Path(run_dir)
        fresh = not run_dir.exists()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create run directory {run_dir}: {exc.strerror or exc}") from None
        lock = None
        try:
            lock = RunLock(run_dir)
            storage = RunStorage.create(run_dir, config.to_dict())
        except BaseException:
            if lock is not None:
                lock.release()
            if fresh:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        return cls(config, run_dir, storage=storage, lock=lock, **kwargs)

    @classmethod
    def open(cls, run_dir: str | Path, *, overrides: dict[str, Any] | None = None, plugins: Sequence[str] = (),
             **kwargs: Any) -> SearchEngine:  # fmt: skip
        """Reopen an existing run to resume it, holding its writer lock until :meth:`close`.

        Nothing the run file names is imported: ``plugins`` (and the installed and ``GP_AUTOLOSS_PLUGINS``
        plugins) are loaded, and the run's recorded plugins must be among them. ``overrides`` are the settings
        given on this command line (see :func:`~gp_autoloss.search.resume.resume_config`).
        """
        load_plugins(plugins)
        run_dir = Path(run_dir)
        storage = RunStorage.open(run_dir)
        lock = None
        try:
            lock = RunLock(run_dir)
            stored = storage.config
            config = resume_config(stored, dict(overrides or {}), run_dir)
            config.validate()
            if config.generations != stored.get("generations"):
                storage.set_meta("config", json.dumps(config.to_dict(), sort_keys=True))
            return cls(config, run_dir, storage=storage, lock=lock, **kwargs)
        except BaseException:
            storage.close()
            if lock is not None:
                lock.release()
            raise

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            plugins = tuple(dict.fromkeys([*loaded_plugins(), *self.config.plugins]))  # what this driver imported
            spec = AdapterSpec(self.config.adapter, self.config.space, dict(self.config.adapter_options), plugins)
            self._executor = create_executor(
                self.config.executor, spec, time_limit=self.config.time_limit,
                memory_limit_mb=self.config.memory_limit_mb, workers=self.config.workers,
                log_path=str(self.run_dir / "worker.log"), **self.config.executor_options,
            )  # fmt: skip
        return self._executor

    def close(self) -> None:
        """Stop workers, close the run file and give up the writer lock."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        self.storage.close()
        if self.lock is not None:
            self.lock.release()

    # ---- observers ------------------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` with a :class:`~gp_autoloss.search.events.GenerationEvent` after the
        initial loss and after every generation this session runs; returns a function that unsubscribes it."""
        return self.events.subscribe(callback)

    # ---- the loop -------------------------------------------------------------------------------------------
    def run(self) -> SearchSummary:
        """Run (or continue) the search to its last generation and return the summary."""
        self.books.start_clock()
        self.storage.set_meta("funnel", columns_to_json(funnel_columns(self.stages)))
        rng = random.Random(self.config.seed)
        init = self._initial()
        self.events.emit(GenerationEvent(self.run_dir, -1))
        parents: list[Candidate] = [init] if init.metric(self.fitness) is not None else []
        if not parents:
            res = init.results.get(self.fitness)
            raise ConfigError(f"the initial loss could not be evaluated: {res.reason if res else 'no result'}")
        for gen in range(self.config.generations):
            record = self.storage.generation(gen)
            if record and record["finished"]:
                parents = [self._load(k) for k in record["parents"]]
                rng.setstate(state_from_json(record["stats"].get("rng_end"), f"generation {gen}'s rng_end"))
                continue
            if record:
                rng.setstate(state_from_json(record["rng_state"], f"generation {gen}'s rng_state"))
            else:
                self.storage.start_generation(gen, state_to_json(rng.getstate()))
            # what earlier generations made: identical for a fresh and a resumed run of this generation
            known = self.storage.known_keys(before_generation=gen)
            parents, stats = self._generation(gen, parents, rng, known)
            self.books.tick(force=True)
            self.events.emit(GenerationEvent(self.run_dir, gen, stats))
        self.books.tick(force=True)
        self.storage.set_meta("finished", "1")
        return self.summary()

    def _initial(self) -> Candidate:
        """L_I: registered as generation -1 and measured by every stage (none selects: it is the first parent)."""
        loss = resolve_initial(self.space, self.config.initial_formula)  # a known loss name or a formula
        cand = self.books.register(loss, -1, "initial", [])
        run = GenerationRun(self.books, -1, [], self.config, self.space)
        for stage in self.stages:
            stage.measure(run, [cand])
        self._settle(cand)
        return cand

    def _settle(self, cand: Candidate) -> None:
        """The final state of a candidate every stage let through: evaluated if its fitness result is ok."""
        res = cand.results.get(self.fitness)
        if res is not None:
            state = CandidateState.EVALUATED if res.ok else CandidateState.FAILED
            self.books.set_state(cand, state, self.fitness, res.reason)

    def _load(self, key: str) -> Candidate:
        row = self.storage.candidates("key=?", (key,))[0]
        return self.books.register(parse(row.prefix, self.space), row.generation, row.origin, row.parents)

    def _generation(self, gen: int, parents: list[Candidate], rng: random.Random,
                    known: set[str]) -> tuple[list[Candidate], dict[str, Any]]:  # fmt: skip
        """Propose, pass the stages, pick the parents, store the generation; the new parents and the stats."""
        pool = [(p.loss, p.metric(self.fitness) or 0.0) for p in parents]
        offspring: list[Offspring] = self.strategy.propose(gen, pool, rng, known)
        cands = [self.books.register(o.loss, gen, o.origin, o.parents) for o in offspring]
        stats: dict[str, Any] = {"generated": len(cands), "unique": len({c.fingerprint for c in cands})}
        run = GenerationRun(self.books, gen, parents, self.config, self.space)
        pipeline = cands
        for stage in self.stages:
            pipeline, counts = stage.run(run, pipeline)
            stats.update(counts)
        for cand in pipeline:  # through every stage: the last one's result decides
            self._settle(cand)
        scored = [c for c in {id(p): p for p in parents + pipeline}.values() if c.metric(self.fitness) is not None]
        scored.sort(key=lambda c: (-(c.metric(self.fitness) or 0.0), c.id))
        new_parents = scored[: self.config.parents] or parents
        best = new_parents[0]
        stats["best_metric"] = best.metric(self.fitness)
        stats["best_formula"] = best.loss.infix
        stats["rng_end"] = state_to_json(rng.getstate())
        self.storage.finish_generation(gen, [p.loss.key for p in new_parents], run.threshold, stats)
        log.info("generation %d: %s", gen, {k: v for k, v in stats.items() if k != "rng_end"})
        return new_parents, stats

    # ---- results ---------------------------------------------------------------------------------------------
    def summary(self) -> SearchSummary:
        """Summary of what the run file holds."""
        return run_summary(self.storage)


def _check_adapter(config: SearchConfig) -> None:
    """Build the adapter once in the driver: bad adapter options fail before a run directory exists, and an
    adapter's one-time preparation (e.g. generating a dataset) happens once, not in every worker at once."""
    from gp_autoloss.fitness import create_adapter

    create_adapter(config.adapter, config.space, **dict(config.adapter_options)).close()


def _stages_of(strategy: str) -> list[Stage]:
    """The stages of a registered strategy; a one-line :class:`ConfigError` if one is not registered."""
    try:
        return STRATEGIES.get(strategy).pipeline()
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"strategy {strategy!r}: {exc.args[0]}{PLUGIN_HINT}") from None
