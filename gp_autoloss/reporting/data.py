"""Everything a report needs from a run file, read once into plain Python objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gp_autoloss.search.storage import STAGES, RunStorage

__all__ = ["RunData", "load_run", "FUNNEL_FIELDS"]

#: per-generation counts, in funnel order (the paper's Table 2)
FUNNEL_FIELDS = ("generated", "unique", "valid", "convergent", "verify_passed", "proxy_evaluated")


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
    def best(self) -> dict[str, Any] | None:
        ev = self.evaluated
        return ev[0] if ev else None

    @property
    def initial(self) -> dict[str, Any] | None:
        return next((c for c in self.candidates if c["origin"] == "initial"), None)

    def stage_totals(self) -> dict[str, dict[str, int]]:
        """Per stage: results computed, taken from the cache, passed, failed."""
        out: dict[str, dict[str, int]] = {}
        for stage in STAGES:
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
            if c["status"] in ("failed", "rejected"):
                first = (c["reason"] or "").splitlines()[0] if c["reason"] else ""
                key = f"{c['stage']}: {_mask(first)[:100]}"
                groups[key] = groups.get(key, 0) + 1
        return dict(sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])))


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def _mask(reason: str) -> str:
    """A reason with numbers replaced by ``#`` and bracketed details by ``(...)``."""
    return _BRACKETS.sub("(...)", _NUMBER.sub("#", reason))


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory (raises ``StorageError`` if it is not a healthy run)."""
    store = RunStorage.open(Path(run_dir))
    try:
        meta = {k: v for k, v in store.conn.execute("SELECT key, value FROM meta")}
        return RunData(Path(run_dir), store.config, store.results_table(), store.generations(), meta)
    finally:
        store.close()
