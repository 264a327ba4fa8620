"""The engine's books: what every stage's work goes through on its way to the run file.

:class:`RunBooks` registers candidates (with their probe fingerprint and any results a resumed run already
stored), records results, gives candidates their final state, runs adapter evaluations through the executor
(equivalent candidates share one job; a result an equivalent loss already has is reused) and keeps the run's
wall clock. :class:`GenerationRun` is the view of it one stage gets for one generation
(:class:`~gp_autoloss.search.stages.StageRun`).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gp_autoloss.execution import EvalJob, Executor
from gp_autoloss.loss import Loss
from gp_autoloss.search.dedup import fingerprint
from gp_autoloss.search.records import Candidate, CandidateState, StageResult
from gp_autoloss.search.stages import StageRun
from gp_autoloss.search.storage import RunStorage, StorageError

if TYPE_CHECKING:
    from gp_autoloss.search.config import SearchConfig
    from primitives import SearchSpace

__all__ = ["GenerationRun", "RunBooks", "ProgressFactory", "STATES_DIR"]

#: how often (seconds) a running search stores its wall-clock time
CLOCK_EVERY = 2.0

#: the folder of a run directory where adapters keep what a proxy budget trained (one sub-folder per loss)
STATES_DIR = "states"

#: ``progress(total=..., desc=...)`` -> an object with ``update(n)`` and ``close()`` (e.g. ``tqdm``)
ProgressFactory = Callable[..., Any]


class RunBooks:
    """The run file and everything a result passes on its way there."""

    def __init__(self, storage: RunStorage, executor: Callable[[], Executor], seed: int,
                 progress: ProgressFactory | None = None) -> None:  # fmt: skip
        self.storage = storage
        self._executor = executor
        self._seed = int(seed) * 1000 + 17  # every evaluation's seed
        self.progress = progress
        self._fp_cache: dict[str, str] = {}
        self._clock: tuple[float, float, float] | None = None  # (earlier sessions' seconds, start, last saved)

    # ---- candidates -------------------------------------------------------------------------------------------
    def fingerprint(self, loss: Loss) -> str:
        """``loss``'s probe fingerprint (computed once per loss)."""
        fp = self._fp_cache.get(loss.key)
        if fp is None:
            fp = self._fp_cache[loss.key] = fingerprint(loss)
        return fp

    def register(self, loss: Loss, generation: int, origin: str, parents: Sequence[str]) -> Candidate:
        """Store a candidate (or find the stored one with its key) with the results the run file has for it."""
        fp = self.fingerprint(loss)
        cid = self.storage.add_candidate(key=loss.key, formula=loss.infix, prefix=loss.to_prefix(), fingerprint=fp,
                                         generation=generation, origin=origin, parents=list(parents),
                                         size=loss.size, depth=loss.depth)  # fmt: skip
        return Candidate(cid, loss, fp, self.storage.results_of(cid))

    def record(self, cand: Candidate, name: str, result: StageResult) -> None:
        """Store ``result`` as ``cand``'s result ``name``."""
        self.storage.record_result(cand.id, name, result)
        cand.results[name] = result
        self.tick()

    def set_state(self, cand: Candidate, state: CandidateState, stage: str | None, reason: str = "") -> None:
        """Give ``cand`` its final state and deciding stage. A decided loss trains no further budget: what its
        rungs saved in its state folder is deleted (a resumed run has its results; the run folder stays small)."""
        self.storage.set_status(cand.id, state, stage, reason)
        if state is not CandidateState.PENDING:
            folder = Path(self.state_folder(cand))
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)

    def has_result(self, cand: Candidate, name: str) -> bool:
        """Does ``cand`` or an equivalent loss have a computed result ``name``?"""
        return name in cand.results or self.storage.result_by_fingerprint(cand.fingerprint, name) is not None

    # ---- evaluations -----------------------------------------------------------------------------------------
    def state_folder(self, cand: Candidate) -> str:
        """Where the adapter keeps what it trained for ``cand`` and its equivalents (``RUN/states/<fingerprint>``),
        so a larger proxy budget continues from a smaller one; created by the adapter when it saves. Absolute, so
        a worker or a training process in another directory finds the same folder."""
        return str(self.storage.path.parent.absolute() / STATES_DIR / cand.fingerprint)

    def evaluate(self, cands: Sequence[Candidate], fidelity: str, desc: str, continues: bool = False) -> None:
        """Run the adapter at ``fidelity`` for the candidates lacking that result; equivalent candidates share
        one job, and a result an equivalent loss already has is reused (marked cached). ``continues``: each job
        gets the loss's state folder (:meth:`state_folder`), where a proxy budget saves and continues."""
        by_fp: dict[str, list[Candidate]] = {}
        for cand in cands:
            if fidelity in cand.results:
                continue
            known = self.storage.result_by_fingerprint(cand.fingerprint, fidelity)
            if known is not None:
                self.record(cand, fidelity, known.shared())
            else:
                by_fp.setdefault(cand.fingerprint, []).append(cand)
        if not by_fp:
            return
        jobs = {f"{group[0].id}:{fidelity}": group for group in by_fp.values()}
        bar = self.progress(total=len(jobs), desc=desc) if self.progress else None
        try:
            for res in self._executor().run([EvalJob(jid, fidelity, g[0].loss.to_prefix(), self._seed,
                                                     self.state_folder(g[0]) if continues else None)
                                             for jid, g in jobs.items()]):  # fmt: skip
                group = jobs[res.job_id]
                result = StageResult(res.ok, res.metric, res.reason, res.seconds)
                self.record(group[0], fidelity, result)
                for twin in group[1:]:
                    self.record(twin, fidelity, result.shared())
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    # ---- wall clock ----------------------------------------------------------------------------------------
    def start_clock(self) -> None:
        """Count this session's time on top of the earlier sessions' (stored in the run file)."""
        now = time.perf_counter()
        self._clock = (_stored_seconds(self.storage.meta("seconds")), now, now)

    def tick(self, force: bool = False) -> None:
        """Store the run's wall-clock so far: the earlier sessions' plus this one's. Saved as the run goes (at
        most every few seconds, and at every generation's end), so a killed session still counts."""
        now = time.perf_counter()
        if self._clock is None or (not force and now - self._clock[2] < CLOCK_EVERY):
            return
        base, started, _ = self._clock
        self.storage.set_meta("seconds", f"{base + now - started:.3f}")
        self._clock = (base, started, now)


class GenerationRun(StageRun):
    """What the stages of one generation see of the books (``generation`` -1: the initial loss)."""

    def __init__(self, books: RunBooks, generation: int, parents: Sequence[Candidate], config: SearchConfig,
                 space: SearchSpace) -> None:  # fmt: skip
        self.books = books
        self.generation = generation
        self.parents = list(parents)
        self.config = config
        self.space = space
        self.threshold: float | None = None

    def record(self, cand: Candidate, name: str, result: StageResult) -> None:
        self.books.record(cand, name, result)

    def evaluate(self, cands: Sequence[Candidate], fidelity: str, label: str, continues: bool = False) -> None:
        where = "gen 0 L_I" if self.generation < 0 else f"gen {self.generation}"
        self.books.evaluate(cands, fidelity, f"{where} {label}", continues)

    def set_state(self, cand: Candidate, state: CandidateState, stage: str, reason: str = "") -> None:
        self.books.set_state(cand, state, stage, reason)

    def has_result(self, cand: Candidate, name: str) -> bool:
        return self.books.has_result(cand, name)


def _stored_seconds(text: str | None) -> float:
    """The wall-clock seconds a run file holds (0 if none)."""
    try:
        value = float(text or 0)
    except ValueError:
        raise StorageError(f"the run file's wall-clock time is damaged ({text!r} is not a number)") from None
    return value if math.isfinite(value) and value >= 0 else 0.0
