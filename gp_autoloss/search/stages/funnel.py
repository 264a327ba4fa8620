"""The funnel a strategy's stages make (the paper's Table 2): its columns, as the report shows them.

The engine stores a run's columns in the run file (``meta.funnel``) when it starts, so a report lists a
plugin stage's counts without knowing the stage, and without importing the plugin. A run file made before
columns were stored gets the columns every run had then (:data:`LEGACY_COLUMNS`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gp_autoloss.search.stages.base import LiveCount, Stage

__all__ = ["ENGINE_COLUMNS", "FunnelColumn", "LEGACY_COLUMNS", "columns_from_json", "columns_to_json",
           "funnel_columns", "run_columns"]  # fmt: skip


@dataclass(frozen=True)
class FunnelColumn:
    """One column of the funnel table: a key of the generation's stats, its heading, whether it is a count of
    candidates left (a bar of the funnel chart), and how to count it for a generation in progress."""

    field: str
    label: str
    funnel: bool = True
    live: LiveCount | None = field(default=None, compare=False)

    def to_json(self) -> list[Any]:
        return [self.field, self.label, self.funnel]


#: the engine's own counts, before any stage
ENGINE_COLUMNS = (
    FunnelColumn("generated", "generated", live=len),
    FunnelColumn("unique", "deduplicated", live=lambda rows: len({c["fingerprint"] for c in rows})),
)

#: the columns of a run file that does not store its own (every strategy's, before stages were composed)
LEGACY_COLUMNS = (*ENGINE_COLUMNS, FunnelColumn("valid", "valid"), FunnelColumn("convergent", "convergent"),
                  FunnelColumn("verify_passed", "D_verify passed"), FunnelColumn("proxy_evaluated", "proxy evaluated"),
                  FunnelColumn("proxy_cached", "proxy cached", False), FunnelColumn("failed", "proxy failed", False))


def funnel_columns(stages: Sequence[Stage]) -> list[FunnelColumn]:
    """The engine's columns, then every stage's counters in pipeline order."""
    cols = list(ENGINE_COLUMNS)
    cols += [FunnelColumn(c.field, c.label, c.funnel, c.live) for s in stages for c in s.counters]
    return cols


def columns_to_json(columns: Sequence[FunnelColumn]) -> str:
    """The columns as stored in ``meta.funnel``."""
    return json.dumps([c.to_json() for c in columns])


def columns_from_json(text: str) -> list[FunnelColumn] | None:
    """Columns stored in ``meta.funnel``; ``None`` if the text is not a list of ``[field, label, funnel]``."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, list):
        return None
    out = []
    for item in data:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)
                and isinstance(item[2], bool)):  # fmt: skip
            return None
        out.append(FunnelColumn(item[0], item[1], item[2]))
    return out


def run_columns(meta: dict[str, str], strategy: Any) -> list[FunnelColumn]:
    """A run's funnel columns: those its run file stores (else :data:`LEGACY_COLUMNS`), each with its live count
    where the run's strategy (name) is registered in this process and has a counter of that field."""
    from gp_autoloss.search.strategies import STRATEGIES

    stored = columns_from_json(meta["funnel"]) if "funnel" in meta else None
    columns = stored or list(LEGACY_COLUMNS)
    live: dict[str, LiveCount | None] = {c.field: c.live for c in ENGINE_COLUMNS}
    if isinstance(strategy, str) and strategy in STRATEGIES:
        try:
            live.update({c.field: c.live for c in funnel_columns(STRATEGIES.get(strategy).pipeline())})
        except KeyError:  # the strategy names a stage no loaded plugin registered
            pass
    return [FunnelColumn(c.field, c.label, c.funnel, live.get(c.field)) for c in columns]
