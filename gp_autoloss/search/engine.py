"""The search engine: runs a strategy generation by generation and keeps every result in the run file.

Per generation (Algorithm 1):

1. the strategy proposes N new candidates (generation 0 evolves them from the initial loss L_I);
2. equivalent candidates (same probe fingerprint) share every stage's result;
3. ``cse`` only: validness check, convergence-property verification, D_verify simulation against the
   previous generation's top loss, top-K;
4. proxy evaluation; the top-P of parents and new results become the next parents.

Resuming re-creates the first unfinished generation from its saved RNG state; finished evaluations come
from the run file, so nothing is lost or repeated and the run ends where an uninterrupted one ends.

A run has one writer at a time (:class:`~gp_autoloss.search.lock.RunLock`), and resuming never runs code that
the run file names (:mod:`gp_autoloss.search.resume`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gp_autoloss.checks.convergence import NOT_CHECKED, has_convergence_check
from gp_autoloss.errors import ConfigError
from gp_autoloss.execution import EvalJob, Executor, create_executor
from gp_autoloss.execution.base import AdapterSpec
from gp_autoloss.known import resolve_initial
from gp_autoloss.loss import Loss, parse, resolve_space
from gp_autoloss.plugins import load_plugins, loaded_plugins, plugins_used_by
from gp_autoloss.reporting.live import publish_report
from gp_autoloss.search.config import SearchConfig
from gp_autoloss.search.dedup import fingerprint
from gp_autoloss.search.lock import RunLock
from gp_autoloss.search.resume import resume_config
from gp_autoloss.search.rng import state_from_json, state_to_json
from gp_autoloss.search.storage import RunStorage, StorageError
from gp_autoloss.search.strategies import STRATEGIES, SearchStrategy
from gp_autoloss.search.variation import Breeder, Offspring

__all__ = ["SearchEngine", "SearchSummary", "Candidate"]

log = logging.getLogger("gp_autoloss.search")

#: how often (seconds) a running search stores its wall-clock time
_CLOCK_EVERY = 2.0


@dataclass
class Candidate:
    """A candidate inside one generation's pipeline."""

    id: int
    loss: Loss
    fingerprint: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def metric(self, stage: str) -> float | None:
        res = self.results.get(stage)
        return res["metric"] if res and res["ok"] else None


@dataclass
class SearchSummary:
    """What a finished search reports."""

    best_formula: str | None
    best_metric: float | None
    initial_formula: str
    initial_metric: float | None
    proxy_evaluations: int
    verify_evaluations: int
    cache_hits: int
    candidates: int
    generations: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


ProgressFactory = Callable[..., Any]


class SearchEngine:
    """Drives one run: ``SearchEngine(config, run_dir).run()``; see :meth:`open` to resume."""

    def __init__(self, config: SearchConfig, run_dir: str | Path, *, storage: RunStorage,
                 progress: ProgressFactory | None = None, lock: RunLock | None = None) -> None:  # fmt: skip
        self.config = config
        self.run_dir = Path(run_dir)
        self.storage = storage
        self.lock = lock
        self.space = resolve_space(config.space)
        self.progress = progress
        self.breeder = Breeder(self.space, max_depth=config.max_depth, max_size=config.max_size,
                               p_crossover=config.p_crossover, p_mutation=config.p_mutation,
                               tournament_size=config.tournament_size)  # fmt: skip
        self.strategy: SearchStrategy = STRATEGIES.get(config.strategy)(self.breeder, config.population)
        self._executor: Executor | None = None
        self._fp_cache: dict[str, str] = {}
        self._clock: tuple[float, float, float] | None = None  # (earlier sessions' seconds, start, last saved)

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

    # ---- bookkeeping helpers ----------------------------------------------------------------------------
    def _fingerprint(self, loss: Loss) -> str:
        fp = self._fp_cache.get(loss.key)
        if fp is None:
            fp = self._fp_cache[loss.key] = fingerprint(loss)
        return fp

    def _register(self, loss: Loss, generation: int, origin: str, parents: Sequence[str]) -> Candidate:
        fp = self._fingerprint(loss)
        cid = self.storage.add_candidate(key=loss.key, formula=loss.infix, prefix=loss.to_prefix(), fingerprint=fp,
                                         generation=generation, origin=origin, parents=list(parents),
                                         size=loss.size, depth=loss.depth)  # fmt: skip
        cand = Candidate(cid, loss, fp)
        for stage in ("validness", "convergence", "verify", "proxy"):
            res = self.storage.result(cid, stage)
            if res is not None:
                cand.results[stage] = res
        return cand

    def _record(self, cand: Candidate, stage: str, ok: bool, metric: float | None, reason: str = "",
                seconds: float = 0.0, cached: bool = False) -> None:  # fmt: skip
        self.storage.add_result(cand.id, stage, ok, metric, reason, seconds, cached)
        cand.results[stage] = {"ok": ok, "metric": metric, "reason": reason, "seconds": seconds, "cached": cached}
        self._tick()

    def _tick(self, force: bool = False) -> None:
        """Store the run's wall-clock so far: the earlier sessions' plus this one's. Saved as the run goes (at
        most every few seconds, and at every generation's end), so a killed session still counts."""
        now = time.perf_counter()
        if self._clock is None or (not force and now - self._clock[2] < _CLOCK_EVERY):
            return
        base, started, _ = self._clock
        self.storage.set_meta("seconds", f"{base + now - started:.3f}")
        self._clock = (base, started, now)

    def _eval_seed(self) -> int:
        return int(self.config.seed) * 1000 + 17

    # ---- stages -------------------------------------------------------------------------------------------
    def _run_checks(self, cands: list[Candidate]) -> list[Candidate]:
        """Validness, then convergence verification (one shared evaluation per candidate); survivors."""
        from gp_autoloss.checks import check

        kept = []
        for cand in cands:
            done = cand.results.get("validness")
            if done is None or (done["ok"] and "convergence" not in cand.results):  # also: killed in between
                start = time.perf_counter()
                try:
                    verdict = check(cand.loss)
                    stages = [("validness", verdict.validness.passed, verdict.validness.reason)]
                    if verdict.convergence is not None:
                        stages.append(("convergence", verdict.convergence.passed, verdict.convergence.reason))
                except Exception as exc:  # noqa: BLE001 - a check that raises rejects the candidate
                    stages = [("validness", False, f"check raised {type(exc).__name__}: {exc}")]
                seconds = (time.perf_counter() - start) / len(stages)
                for stage, ok, reason in stages:
                    self._record(cand, stage, ok, 1.0 if ok else 0.0, reason, seconds)
            for stage in ("validness", "convergence"):
                res = cand.results.get(stage)
                if res is None or not res["ok"]:
                    if res is not None:
                        self.storage.set_status(cand.id, "rejected", stage, res["reason"])
                    break
            else:
                kept.append(cand)
        return kept

    def _evaluate(self, cands: list[Candidate], stage: str, desc: str) -> None:
        """Run ``stage`` (verify/proxy) for candidates lacking it; equivalent candidates share one job."""
        todo = [c for c in cands if stage not in c.results]
        by_fp: dict[str, list[Candidate]] = {}
        for cand in todo:
            cached = self.storage.result_by_fingerprint(cand.fingerprint, stage)
            if cached is not None:
                self._record(cand, stage, cached["ok"], cached["metric"], cached["reason"], 0.0, cached=True)
            else:
                by_fp.setdefault(cand.fingerprint, []).append(cand)
        if not by_fp:
            return
        jobs = {f"{group[0].id}:{stage}": group for group in by_fp.values()}
        bar = self._bar(len(jobs), desc)
        try:
            for res in self.executor.run([EvalJob(jid, stage, g[0].loss.to_prefix(), self._eval_seed())
                                          for jid, g in jobs.items()]):  # fmt: skip
                group = jobs[res.job_id]
                self._record(group[0], stage, res.ok, res.metric, res.reason, res.seconds)
                for twin in group[1:]:
                    self._record(twin, stage, res.ok, res.metric, res.reason, 0.0, cached=True)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    def _bar(self, total: int, desc: str) -> Any:
        return self.progress(total=total, desc=desc) if self.progress else None

    # ---- the loop -------------------------------------------------------------------------------------------
    def _initial(self) -> Candidate:
        loss = resolve_initial(self.space, self.config.initial_formula)  # a known loss name or a formula
        cand = self._register(loss, -1, "initial", [])
        if self.strategy.checks:
            self._run_checks([cand])
        if self.strategy.simulate:
            self._evaluate([cand], "verify", "gen 0 L_I verify")
        self._evaluate([cand], "proxy", "gen 0 L_I proxy")
        self._settle(cand)
        return cand

    def _settle(self, cand: Candidate) -> None:
        res = cand.results.get("proxy")
        if res is None:
            return
        status = "evaluated" if res["ok"] else "failed"
        self.storage.set_status(cand.id, status, "proxy", res["reason"])

    def _load(self, key: str) -> Candidate:
        row = self.storage.candidates("key=?", (key,))[0]
        return self._register(parse(row.prefix, self.space), row.generation, row.origin, row.parents)

    def run(self) -> SearchSummary:
        """Run (or continue) the search to its last generation and return the summary."""
        started = time.perf_counter()
        self._clock = (_stored_seconds(self.storage.meta("seconds")), started, started)
        rng = random.Random(self.config.seed)
        init = self._initial()
        publish_report(self.run_dir)
        parents: list[Candidate] = [init] if init.metric("proxy") is not None else []
        if not parents:
            raise ConfigError(f"the initial loss could not be evaluated: {init.results['proxy']['reason']}")
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
            parents = self._generation(gen, parents, rng, known)
            self._tick(force=True)
        self._tick(force=True)
        self.storage.set_meta("finished", "1")
        return self.summary()

    def _generation(self, gen: int, parents: list[Candidate], rng: random.Random, known: set[str]) -> list[Candidate]:
        threshold = None
        pool = [(p.loss, p.metric("proxy") or 0.0) for p in parents]
        offspring: list[Offspring] = self.strategy.propose(gen, pool, rng, known)
        cands = [self._register(o.loss, gen, o.origin, o.parents) for o in offspring]
        stats: dict[str, Any] = {"generated": len(cands)}
        fps = {c.fingerprint for c in cands}
        stats["unique"] = len(fps)
        pipeline = cands
        if self.strategy.checks:
            pipeline = self._run_checks(pipeline)
            # funnel counts are distinct losses (fingerprints), like "unique": equivalent twins share results
            stats["valid"] = len({c.fingerprint for c in cands if c.results.get("validness", {}).get("ok")})
            # a space without a convergence check: its candidates were not checked, not found convergent
            stats["convergent"] = len({c.fingerprint for c in pipeline}) if has_convergence_check(self.space.name) \
                else NOT_CHECKED  # fmt: skip
        if self.strategy.simulate:
            self._evaluate(pipeline, "verify", f"gen {gen} D_verify")
            top = parents[0]
            threshold = top.metric("verify")
            passing = []
            for c in pipeline:
                m = c.metric("verify")
                if m is None:
                    self.storage.set_status(c.id, "failed", "verify", c.results["verify"]["reason"])
                elif threshold is not None and m < threshold - self.config.verify_margin:
                    self.storage.set_status(c.id, "rejected", "threshold",
                                            f"D_verify metric below the top loss's ({m:.4g} < {threshold:.4g})")
                else:
                    passing.append(c)
            passing.sort(key=lambda c: (-(c.metric("verify") or 0.0), c.id))
            stats["verify_passed"] = len({c.fingerprint for c in passing})
            pipeline = self._top_k(passing)
        self._evaluate(pipeline, "proxy", f"gen {gen} proxy")
        for c in pipeline:
            self._settle(c)
        stats["proxy_evaluated"] = sum(1 for c in pipeline if not c.results["proxy"]["cached"])
        stats["proxy_cached"] = sum(1 for c in pipeline if c.results["proxy"]["cached"])
        stats["failed"] = sum(1 for c in pipeline if not c.results["proxy"]["ok"])
        scored = [c for c in {id(p): p for p in parents + pipeline}.values() if c.metric("proxy") is not None]
        scored.sort(key=lambda c: (-(c.metric("proxy") or 0.0), c.id))
        new_parents = scored[: self.config.parents] or parents
        best = new_parents[0]
        stats["best_metric"] = best.metric("proxy")
        stats["best_formula"] = best.loss.infix
        stats["rng_end"] = state_to_json(rng.getstate())
        self.storage.finish_generation(gen, [p.loss.key for p in new_parents], threshold, stats)
        log.info("generation %d: %s", gen, {k: v for k, v in stats.items() if k != "rng_end"})
        publish_report(self.run_dir)  # RUN/report.html; never raises
        return new_parents

    def _top_k(self, passing: list[Candidate]) -> list[Candidate]:
        """The candidates that go to the proxy stage, best D_verify metric first: the top-K distinct losses
        whose proxy result is not known yet, plus every candidate whose equivalent already has one (free,
        from the cache) and the twins of the chosen (they share the job). The rest is rejected as top_k."""
        chosen: set[str] = set()
        kept = []
        for c in passing:
            known = "proxy" in c.results or self.storage.result_by_fingerprint(c.fingerprint, "proxy") is not None
            if known or c.fingerprint in chosen:
                kept.append(c)
            elif len(chosen) < self.config.top_k:
                chosen.add(c.fingerprint)
                kept.append(c)
            else:
                self.storage.set_status(c.id, "rejected", "top_k", f"not in the top {self.config.top_k} on D_verify")
        return kept

    # ---- results ---------------------------------------------------------------------------------------------
    def summary(self) -> SearchSummary:
        """Summary of what the run file holds."""
        rows = [r for r in self.storage.results_table() if r.get("proxy_ok")]
        best = max(rows, key=lambda r: (r["proxy_metric"], -r["id"]), default=None)
        init = next((r for r in self.storage.results_table() if r["origin"] == "initial"), None)
        return SearchSummary(
            best_formula=best["formula"] if best else None,
            best_metric=best["proxy_metric"] if best else None,
            initial_formula=init["formula"] if init else "",
            initial_metric=init.get("proxy_metric") if init else None,
            proxy_evaluations=self.storage.count_results("proxy", cached=False),
            verify_evaluations=self.storage.count_results("verify", cached=False),
            cache_hits=sum(self.storage.count_results(s, cached=True) for s in ("verify", "proxy")),
            candidates=len(self.storage.candidates()),
            generations=sum(1 for g in self.storage.generations() if g["finished"]),
            seconds=float(self.storage.meta("seconds", "0") or 0),
        )


def _stored_seconds(text: str | None) -> float:
    """The wall-clock seconds a run file holds (0 if none)."""
    try:
        value = float(text or 0)
    except ValueError:
        raise StorageError(f"the run file's wall-clock time is damaged ({text!r} is not a number)") from None
    return value if math.isfinite(value) and value >= 0 else 0.0


def _check_adapter(config: SearchConfig) -> None:
    """Build the adapter once in the driver: bad adapter options fail before a run directory exists, and an
    adapter's one-time preparation (e.g. generating a dataset) happens once, not in every worker at once."""
    from gp_autoloss.fitness import create_adapter

    create_adapter(config.adapter, config.space, **dict(config.adapter_options)).close()
