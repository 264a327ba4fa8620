"""Everything a report needs from a run file, read once into plain Python objects."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gp_autoloss.search.records import CandidateState
from gp_autoloss.search.stages.funnel import LEGACY_COLUMNS, FunnelColumn, run_columns
from gp_autoloss.search.storage import (
    STAGES,
    RunStorage,
    StorageError,
    run_file_path,
    unreadable_run_file,
    verify_run_file,
)

__all__ = ["RunData", "load_run", "open_readonly", "FUNNEL_FIELDS"]

#: the funnel counts of a run file that does not store its own columns (the paper's Table 2); a run's own are
#: :attr:`RunData.funnel_columns`
FUNNEL_FIELDS = tuple(c.field for c in LEGACY_COLUMNS if c.funnel)

#: the states of a candidate a stage dropped
DROPPED = (CandidateState.FAILED, CandidateState.REJECTED)


@dataclass
class RunData:
    """A run as plain data: config, candidates (with stage results), generations, totals."""

    run_dir: Path
    config: dict[str, Any]
    candidates: list[dict[str, Any]]
    generations: list[dict[str, Any]]
    meta: dict[str, str]

    @property
    def evaluated(self) -> list[dict[str, Any]]:
        """Candidates with a successful proxy metric, best first."""
        rows = [c for c in self.candidates if c.get("proxy_ok")]
        return sorted(rows, key=lambda r: (-r["proxy_metric"], r["id"]))

    @property
    def funnel_columns(self) -> list[FunnelColumn]:
        """The funnel table's columns: the engine's counts and each of the strategy's stages' counters, as the
        run file stores them (see :mod:`gp_autoloss.search.stages.funnel`)."""
        return run_columns(self.meta, self.config.get("strategy"))

    @property
    def result_names(self) -> list[str]:
        """The stage results the candidates have: the built-in ones in pipeline order, then any other."""
        seen = {k[: -len("_ok")] for c in self.candidates for k in c if k.endswith("_ok")}
        return [*STAGES, *sorted(seen - set(STAGES))]

    @property
    def best(self) -> dict[str, Any] | None:
        ev = self.evaluated
        return ev[0] if ev else None

    @property
    def initial(self) -> dict[str, Any] | None:
        return next((c for c in self.candidates if c["origin"] == "initial"), None)

    def stage_totals(self) -> dict[str, dict[str, int]]:
        """Per stage: results computed, taken from the cache, passed, failed."""
        out: dict[str, dict[str, int]] = {}
        for stage in self.result_names:
            rows = [c for c in self.candidates if f"{stage}_ok" in c]
            out[stage] = {
                "results": len(rows),
                "computed": sum(1 for c in rows if not c[f"{stage}_cached"]),
                "cached": sum(1 for c in rows if c[f"{stage}_cached"]),
                "ok": sum(1 for c in rows if c[f"{stage}_ok"]),
            }
        return out

    def failures(self) -> dict[str, int]:
        """Failed or rejected candidates grouped by stage and reason; numbers and quoted details in a
        reason are masked so that reasons of the same kind fall into one group."""
        groups: dict[str, int] = {}
        for c in self.candidates:
            if c["status"] in DROPPED:
                first = (c["reason"] or "").splitlines()[0] if c["reason"] else ""
                key = f"{c['stage']}: {_mask(first)[:100]}"
                groups[key] = groups.get(key, 0) + 1
        return dict(sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])))


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def _mask(reason: str) -> str:
    """A reason with numbers replaced by ``#`` and bracketed details by ``(...)``."""
    return _BRACKETS.sub("(...)", _NUMBER.sub("#", reason))


def open_readonly(run_dir: str | Path) -> RunStorage:
    """Open a run file for reading only, checking that it is a healthy gp-autoloss run.

    The connection is SQLite's ``mode=ro``: a report can never change the run, even while the search writes
    it. In a directory the reader cannot write (where SQLite cannot create the ``-shm`` file a WAL reader
    needs) a run that no search has open (no ``-wal`` file) is read as immutable instead.
    """
    path = run_file_path(run_dir)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = None
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if conn is not None:
            conn.close()
        if Path(f"{path}-wal").exists():
            raise unreadable_run_file(path, exc) from None
        try:
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise unreadable_run_file(path, exc) from None
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise unreadable_run_file(path, exc) from None
    verify_run_file(conn, path)
    return RunStorage(path, conn)


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory, read-only (raises ``StorageError`` if it is not a healthy run).

    A run that is still being written is read as it stands: the last committed evaluation is in, the
    generation in progress is unfinished.
    """
    store = open_readonly(run_dir)
    try:
        conn = store.conn
        conn.execute("BEGIN")  # one snapshot: a search writing meanwhile cannot tear the tables apart
        try:
            meta = {k: v for k, v in conn.execute("SELECT key, value FROM meta")}
            candidates = store.results_table()
            by_id = {c["id"]: c for c in candidates}
            for cid, stage, created in conn.execute("SELECT candidate, stage, created FROM results"):
                row = by_id.get(cid)
                if row is not None:
                    row[f"{stage}_created"] = created
            generations = store.generations()
            config = store.config
        finally:
            conn.execute("COMMIT")
        return RunData(Path(run_dir), config, candidates, generations, meta)
    except StorageError as exc:  # damage found while reading: name the file too
        raise StorageError(f"{store.path}: {exc}") from None
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read {store.path}: {exc}") from None
    finally:
        store.close()
