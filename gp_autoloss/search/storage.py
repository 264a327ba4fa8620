"""One SQLite file per run: config, RNG states, every candidate and every evaluation.

The driver alone writes it. Each finished evaluation is committed at once, so ``kill -9`` loses at
most the evaluation in flight; a resumed run re-creates the interrupted generation from its saved RNG
state and finds every finished evaluation in the cache.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gp_autoloss.errors import GpAutolossError
from gp_autoloss.search.records import CandidateState, StageResult

__all__ = ["RunStorage", "StorageError", "RUN_FILE", "CandidateRow", "STAGES", "run_file_path", "unreadable_run_file",
           "verify_run_file"]

RUN_FILE = "run.sqlite"
APP_ID = "gp-autoloss-run"
SCHEMA_VERSION = 1
#: the results the built-in stages store, in pipeline order (a plugin's stage may store others)
STAGES = ("validness", "convergence", "verify", "proxy")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    formula TEXT NOT NULL,
    prefix TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    generation INTEGER NOT NULL,
    origin TEXT NOT NULL,
    parents TEXT NOT NULL DEFAULT '[]',
    size INTEGER NOT NULL,
    depth INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    stage TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    candidate INTEGER NOT NULL REFERENCES candidates(id),
    stage TEXT NOT NULL,
    ok INTEGER NOT NULL,
    metric REAL,
    reason TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    PRIMARY KEY (candidate, stage)
);
CREATE INDEX IF NOT EXISTS results_stage ON results(stage);
CREATE INDEX IF NOT EXISTS candidates_fp ON candidates(fingerprint);
CREATE TABLE IF NOT EXISTS generations (
    generation INTEGER PRIMARY KEY,
    rng_state TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    parents TEXT NOT NULL DEFAULT '[]',
    threshold REAL,
    stats TEXT NOT NULL DEFAULT '{}',
    started REAL NOT NULL,
    ended REAL
);
"""


class StorageError(GpAutolossError):
    """A run file that is missing, foreign, corrupted or of another schema version."""


@dataclass(frozen=True)
class CandidateRow:
    """A candidate as stored."""

    id: int
    key: str
    formula: str
    prefix: str
    fingerprint: str
    generation: int
    origin: str
    parents: list[str]
    size: int
    depth: int
    status: str
    stage: str | None
    reason: str


class RunStorage:
    """The SQLite file of one run (``DIR/run.sqlite``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    # ---- opening ----------------------------------------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path, config: dict[str, Any]) -> RunStorage:
        """Create a new run file in ``run_dir`` (which must not hold one)."""
        path = Path(run_dir) / RUN_FILE
        if path.exists():
            raise StorageError(f"{run_dir} already holds a run; use --resume to continue it or pick another --out")
        try:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot create run file in {run_dir}: {exc}") from None
        store = cls(path, conn)
        store._pragmas()
        conn.executescript(_SCHEMA)
        with store.transaction():
            store._set_meta("app", APP_ID)
            store._set_meta("schema", str(SCHEMA_VERSION))
            store._set_meta("config", json.dumps(config, sort_keys=True))
            store._set_meta("created", str(time.time()))
        return store

    @classmethod
    def open(cls, run_dir: Path) -> RunStorage:
        """Open an existing run, checking that it is a healthy gp-autoloss run file."""
        path = run_file_path(run_dir)
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise unreadable_run_file(path, exc) from None
        verify_run_file(conn, path)
        store = cls(path, conn)
        store._pragmas()
        return store

    def _pragmas(self) -> None:
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate transaction, committed on success and rolled back on error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---- meta -------------------------------------------------------------------------------------------
    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def set_meta(self, key: str, value: str) -> None:
        """Store one metadata value."""
        with self.transaction():
            self._set_meta(key, value)

    def meta(self, key: str, default: str | None = None) -> str | None:
        """One metadata value."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration as created."""
        config = _decode(self.meta("config") or "{}", "meta.config")
        if not isinstance(config, dict):
            raise StorageError(f"the run file is damaged: meta.config is not a table of settings ({config!r:.40})")
        return config

    # ---- generations ------------------------------------------------------------------------------------
    def generation(self, gen: int) -> dict[str, Any] | None:
        """The record of generation ``gen`` or ``None``."""
        row = self.conn.execute(
            "SELECT generation, rng_state, finished, parents, threshold, stats, started, ended "
            "FROM generations WHERE generation=?",
            (gen,),
        ).fetchone()
        if row is None:
            return None
        what = f"generation {row[0]}'s"
        stats, parents = _decode(row[5], f"{what} stats"), _decode(row[3], f"{what} parents")
        if not isinstance(stats, dict):
            raise StorageError(f"the run file is damaged: {what} stats are not a table ({stats!r:.40})")
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise StorageError(f"the run file is damaged: {what} parents are not a list of candidates")
        for name, value in (("threshold", row[4]), ("started", row[6]), ("ended", row[7])):
            _check_number(value, f"{what} {name}")
        return {
            "generation": row[0], "rng_state": _decode(row[1], f"{what} rng_state"), "finished": bool(row[2]),
            "parents": parents, "threshold": row[4], "stats": stats, "started": row[6], "ended": row[7],
        }  # fmt: skip

    def generations(self) -> list[dict[str, Any]]:
        """Every generation record, in order."""
        gens = [r[0] for r in self.conn.execute("SELECT generation FROM generations ORDER BY generation")]
        return [g for g in (self.generation(k) for k in gens) if g is not None]

    def start_generation(self, gen: int, rng_state: Any) -> None:
        """Record the RNG state a generation starts from (kept if the generation was already started)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO generations(generation, rng_state, started) VALUES (?, ?, ?)",
                (gen, json.dumps(rng_state), time.time()),
            )

    def finish_generation(self, gen: int, parents: list[str], threshold: float | None, stats: dict[str, Any]) -> None:
        """Mark a generation finished with its parents (candidate keys) and statistics."""
        with self.transaction():
            self.conn.execute(
                "UPDATE generations SET finished=1, parents=?, threshold=?, stats=?, ended=? WHERE generation=?",
                (json.dumps(parents), threshold, json.dumps(stats, sort_keys=True), time.time(), gen),
            )

    # ---- candidates -------------------------------------------------------------------------------------
    def add_candidate(
        self, *, key: str, formula: str, prefix: str, fingerprint: str, generation: int, origin: str,
        parents: list[str], size: int, depth: int,
    ) -> int:  # fmt: skip
        """Insert a candidate (or return the id of the stored one with the same key)."""
        with self.transaction():
            row = self.conn.execute("SELECT id FROM candidates WHERE key=?", (key,)).fetchone()
            if row:
                return int(row[0])
            cur = self.conn.execute(
                "INSERT INTO candidates(key, formula, prefix, fingerprint, generation, origin, parents, size, depth,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, formula, prefix, fingerprint, generation, origin, json.dumps(parents), size, depth, time.time()),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def candidate_id(self, key: str) -> int | None:
        """Id of the candidate with ``key``."""
        row = self.conn.execute("SELECT id FROM candidates WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row else None

    def known_keys(self, before_generation: int | None = None) -> set[str]:
        """Keys of the stored candidates (of generations before ``before_generation`` if given)."""
        if before_generation is None:
            return {r[0] for r in self.conn.execute("SELECT key FROM candidates")}
        return {r[0] for r in self.conn.execute("SELECT key FROM candidates WHERE generation < ?", (before_generation,))}

    def set_status(self, cand_id: int, status: CandidateState | str, stage: str | None = None,
                   reason: str = "") -> None:  # fmt: skip
        """Set a candidate's final status (:class:`CandidateState`: evaluated, rejected, failed) and the deciding
        stage."""
        value = CandidateState(status).value
        with self.transaction():
            self.conn.execute(
                "UPDATE candidates SET status=?, stage=?, reason=? WHERE id=?", (value, stage, reason, cand_id)
            )

    def candidates(self, where: str = "", params: tuple[Any, ...] = ()) -> list[CandidateRow]:
        """Stored candidates, optionally filtered by an SQL ``where`` clause over ``candidates``."""
        sql = (
            "SELECT id, key, formula, prefix, fingerprint, generation, origin, parents, size, depth, status, stage,"
            " reason FROM candidates"
        )
        if where:
            sql += f" WHERE {where}"
        rows = self.conn.execute(sql + " ORDER BY id", params).fetchall()
        return [CandidateRow(*r[:7], _decode(r[7], f"candidate {r[0]}'s parents"), *r[8:]) for r in rows]  # type: ignore[misc]

    # ---- results ----------------------------------------------------------------------------------------
    def add_result(
        self, cand_id: int, stage: str, ok: bool, metric: float | None, reason: str = "", seconds: float = 0.0,
        cached: bool = False,
    ) -> None:  # fmt: skip
        """Record one stage's outcome for a candidate (first write wins)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO results(candidate, stage, ok, metric, reason, seconds, cached, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cand_id, stage, int(ok), metric, reason, seconds, int(cached), time.time()),
            )

    def record_result(self, cand_id: int, stage: str, result: StageResult) -> None:
        """Record one stage's :class:`StageResult` for a candidate (first write wins)."""
        self.add_result(cand_id, stage, result.ok, result.metric, result.reason, result.seconds, result.cached)

    def result(self, cand_id: int, stage: str) -> StageResult | None:
        """One stored result."""
        row = self.conn.execute(
            "SELECT ok, metric, reason, seconds, cached FROM results WHERE candidate=? AND stage=?", (cand_id, stage)
        ).fetchone()
        if row is None:
            return None
        _check_number(row[1], f"candidate {cand_id}'s {stage} metric")
        return StageResult(bool(row[0]), row[1], row[2], row[3], bool(row[4]))

    def results_of(self, cand_id: int) -> dict[str, StageResult]:
        """Every stored result of a candidate, by stage name (built-in and plugin stages alike)."""
        out = {}
        for stage, ok, metric, reason, seconds, cached in self.conn.execute(
            "SELECT stage, ok, metric, reason, seconds, cached FROM results WHERE candidate=? ORDER BY rowid", (cand_id,)
        ):
            _check_number(metric, f"candidate {cand_id}'s {stage} metric")
            out[stage] = StageResult(bool(ok), metric, reason, seconds, bool(cached))
        return out

    def result_by_fingerprint(self, fingerprint: str, stage: str) -> StageResult | None:
        """A computed (non-cached) result of an equivalent candidate (same probe fingerprint) at ``stage``."""
        row = self.conn.execute(
            "SELECT r.ok, r.metric, r.reason, r.seconds, c.key FROM results r JOIN candidates c ON c.id = r.candidate"
            " WHERE c.fingerprint=? AND r.stage=? AND r.cached=0 LIMIT 1",
            (fingerprint, stage),
        ).fetchone()
        if row is None:
            return None
        _check_number(row[1], f"the {stage} metric of {row[4]}")
        return StageResult(bool(row[0]), row[1], row[2], row[3])

    def results_table(self) -> list[dict[str, Any]]:
        """Every candidate joined with its results: one dict per candidate, stage fields prefixed."""
        out: dict[int, dict[str, Any]] = {}
        for c in self.candidates():
            out[c.id] = {
                "id": c.id, "key": c.key, "formula": c.formula, "prefix": c.prefix, "generation": c.generation,
                "origin": c.origin, "status": c.status, "stage": c.stage, "reason": c.reason, "size": c.size,
                "fingerprint": c.fingerprint,
            }  # fmt: skip
        for cid, stage, ok, metric, reason, seconds, cached in self.conn.execute(
            "SELECT candidate, stage, ok, metric, reason, seconds, cached FROM results"
        ):
            row = out.get(cid)
            if row is not None:
                _check_number(metric, f"candidate {cid}'s {stage} metric")
                _check_number(seconds, f"candidate {cid}'s {stage} seconds")
                row.update({f"{stage}_ok": bool(ok), f"{stage}_metric": metric, f"{stage}_reason": reason,
                            f"{stage}_seconds": seconds, f"{stage}_cached": bool(cached)})  # fmt: skip
        return list(out.values())

    def count_results(self, stage: str, cached: bool | None = None) -> int:
        """How many results of ``stage`` are stored (optionally only cached / only computed ones)."""
        if cached is None:
            return int(self.conn.execute("SELECT COUNT(*) FROM results WHERE stage=?", (stage,)).fetchone()[0])
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM results WHERE stage=? AND cached=?", (stage, int(cached))
            ).fetchone()[0]
        )


def _decode(text: Any, what: str) -> Any:
    """JSON stored in the run file; a one-line :class:`StorageError` naming ``what`` if it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
        raise StorageError(f"the run file is damaged: {what} is not valid JSON ({shown})") from None


def _check_number(value: Any, what: str) -> None:
    """A stored number must be a number (or NULL): SQLite keeps text such as ``'abc'`` in a REAL column."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise StorageError(f"the run file is damaged: {what} is {shown}, not a number")


#: every table of a run file and the columns the code reads
_TABLES = {
    "meta": ("key", "value"),
    "candidates": ("id", "key", "formula", "prefix", "fingerprint", "generation", "origin", "parents", "size", "depth",
                   "status", "stage", "reason", "created"),
    "results": ("candidate", "stage", "ok", "metric", "reason", "seconds", "cached", "created"),
    "generations": ("generation", "rng_state", "finished", "parents", "threshold", "stats", "started", "ended"),
}  # fmt: skip


def _missing_part(conn: sqlite3.Connection) -> str | None:
    """The first table or column of the schema the run file lacks, or ``None``."""
    for table, columns in _TABLES.items():
        have = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        if not have:
            return f"table {table!r} is missing"
        lost = [c for c in columns if c not in have]
        if lost:
            return f"table {table!r} has no column {lost[0]!r}"
    return None


def run_file_path(run_dir: str | Path) -> Path:
    """``run_dir/run.sqlite`` of an existing run directory; a one-line :class:`StorageError` otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise StorageError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise StorageError(f"{run_dir} is not a gp-autoloss run directory (no {RUN_FILE})")
    return path


def verify_run_file(conn: sqlite3.Connection, path: Path) -> None:
    """Check that ``conn`` holds a healthy gp-autoloss run file of this schema version; otherwise close it and
    raise a one-line :class:`StorageError`."""
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(str(check))
        app = conn.execute("SELECT value FROM meta WHERE key='app'").fetchone()
        schema = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        missing = _missing_part(conn) if app and app[0] == APP_ID else None
    except sqlite3.Error as exc:
        conn.close()
        raise unreadable_run_file(path, exc) from None
    if not app or app[0] != APP_ID:
        conn.close()
        raise StorageError(f"{path} is not a gp-autoloss run file")
    if not schema or schema[0] != str(SCHEMA_VERSION):
        conn.close()
        raise StorageError(f"{path} has schema version {schema[0] if schema else '?'}; expected {SCHEMA_VERSION}")
    if missing:
        conn.close()
        raise StorageError(f"{path} is damaged: {missing}")


def unreadable_run_file(path: Path, exc: Exception) -> StorageError:
    """The one-line error for a run file SQLite cannot read."""
    return StorageError(f"{path} is corrupted or not a gp-autoloss run file ({exc})")
