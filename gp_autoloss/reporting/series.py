"""What the report shows, computed from a :class:`RunData`: run status, the funnel per generation (Table 2),
best-so-far curves, the evolution scatter (Figure 4), the leaderboard and failures grouped by reason.

Everything here is plain data (dicts, lists, numbers, strings), shared by ``report --json`` and the HTML page.
"""

from __future__ import annotations

import math
from typing import Any

from gp_autoloss.reporting.data import DROPPED, RunData, _mask
from gp_autoloss.search.storage import STAGES

__all__ = ["run_status", "funnel", "best_so_far", "evolution_points", "leaderboard", "failure_groups",
           "time_spent", "finite", "SCATTER_PER_GENERATION"]  # fmt: skip

#: the evolution scatter keeps this many best losses per generation and run (the paper plots the top 100)
SCATTER_PER_GENERATION = 200


def finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` for missing, NaN and infinite values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def run_status(run: RunData) -> dict[str, Any]:
    """State of the run: ``empty``, ``running`` (or interrupted) or ``finished``, with counts and times."""
    finished = [g for g in run.generations if g["finished"]]
    planned = int(run.config.get("generations") or 0)
    # every planned generation finished: the search writes its last report just before it marks the run finished
    done = len(finished) >= planned and (planned > 0 or run.meta.get("finished") == "1")
    state = "finished" if done else ("empty" if not run.candidates else "running")
    created = finite(run.meta.get("created"))
    stamps = [f"{s}_created" for s in run.result_names]  # once: the names scan every candidate
    times = [t for c in run.candidates for key in stamps if (t := c.get(key)) is not None]
    times += [g["ended"] for g in run.generations if g.get("ended")]
    last = max(times) if times else created
    best = run.best
    return {
        "state": state, "generations_finished": len(finished), "generations_planned": planned,
        "candidates": len(run.candidates), "created": created, "last_update": last,
        "seconds": finite(run.meta.get("seconds")) if done and run.meta.get("finished") == "1"
        else (last - created if last and created else 0.0),
        "best_metric": finite(best["proxy_metric"]) if best else None,
        "best_formula": best["formula"] if best else None,
        "proxy_evaluations": sum(1 for c in run.candidates if "proxy_ok" in c and not c["proxy_cached"]),
    }  # fmt: skip


def funnel(run: RunData) -> list[dict[str, Any]]:
    """Per generation: the paper's Table 2 counts, cached/failed proxy results, best metric, threshold, time.

    The columns are the run's (:attr:`RunData.funnel_columns`). A generation still in progress is counted from
    its candidates as they stand (``finished`` false), as far as the strategy's counters can be.
    """
    columns = run.funnel_columns
    out = []
    by_gen: dict[int, list[dict[str, Any]]] = {}
    for c in run.candidates:
        by_gen.setdefault(c["generation"], []).append(c)
    for g in run.generations:
        row: dict[str, Any] = {"generation": g["generation"], "finished": g["finished"]}
        if g["finished"]:
            st = g["stats"]
            row.update({c.field: st.get(c.field) for c in columns})
            row.update(best_metric=finite(st.get("best_metric")), best_formula=st.get("best_formula"))
        else:
            cands = by_gen.get(g["generation"], [])
            row.update({c.field: c.live(cands) if c.live is not None else None for c in columns})
            row.update(best_metric=None, best_formula=None)
        row["threshold"] = finite(g.get("threshold"))
        row["seconds"] = (g["ended"] - g["started"]) if g.get("ended") and g.get("started") else None
        out.append(row)
    return out


def best_so_far(run: RunData) -> list[dict[str, Any]]:
    """Every computed proxy evaluation in the order it finished (cached results cost nothing and are left
    out): evaluation number, seconds since the run was created, its metric and the best metric so far."""
    created = finite(run.meta.get("created")) or 0.0
    rows = [c for c in run.candidates if "proxy_ok" in c and not c["proxy_cached"]]
    rows.sort(key=lambda c: (c.get("proxy_created") or 0.0, c["id"]))
    best: float | None = None
    out = []
    for n, c in enumerate(rows, 1):
        metric = finite(c["proxy_metric"]) if c["proxy_ok"] else None
        if metric is not None and (best is None or metric > best):
            best = metric
        seconds = max((c.get("proxy_created") or created) - created, 0.0)
        out.append({"evaluation": n, "seconds": seconds, "metric": metric, "best": best, "id": c["id"]})
    return out


def evolution_points(run: RunData, per_generation: int = SCATTER_PER_GENERATION) -> list[dict[str, Any]]:
    """Evaluated losses per generation (Figure 4): the ``per_generation`` best of each generation, each as
    generation (-1 for the initial loss), metric, candidate id and formula."""
    by_gen: dict[int, list[dict[str, Any]]] = {}
    for c in run.candidates:
        if c.get("proxy_ok") and finite(c["proxy_metric"]) is not None:
            by_gen.setdefault(max(c["generation"], -1), []).append(c)
    out = []
    for gen in sorted(by_gen):
        rows = sorted(by_gen[gen], key=lambda c: (-c["proxy_metric"], c["id"]))[:per_generation]
        out += [{"generation": gen, "metric": float(c["proxy_metric"]), "id": c["id"], "formula": c["formula"]}
                for c in rows]  # fmt: skip
    return out


def time_spent(cand: dict[str, Any]) -> float:
    """Seconds spent on a candidate over all stages (0 for results taken from the cache)."""
    return float(sum(cand.get(f"{s}_seconds") or 0.0 for s in _results_of(cand) if not cand.get(f"{s}_cached")))


def _results_of(cand: dict[str, Any]) -> list[str]:
    """The stage results a candidate row has (built-in stages first, in pipeline order)."""
    have = [k[: -len("_ok")] for k in cand if k.endswith("_ok")]
    return [s for s in STAGES if s in have] + [s for s in have if s not in STAGES]


def leaderboard(run: RunData, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` best losses by proxy metric, with each stage's outcome and the time spent."""
    out = []
    for rank, c in enumerate(run.evaluated[:top], 1):
        stages = {}
        for s in _results_of(c):
            if f"{s}_ok" in c:
                stages[s] = {"ok": c[f"{s}_ok"], "metric": finite(c[f"{s}_metric"]), "reason": c[f"{s}_reason"],
                             "seconds": c[f"{s}_seconds"], "cached": c[f"{s}_cached"]}  # fmt: skip
        out.append({"rank": rank, "id": c["id"], "formula": c["formula"], "prefix": c["prefix"],
                    "generation": c["generation"], "origin": c["origin"], "size": c["size"],
                    "proxy_metric": finite(c["proxy_metric"]), "verify_metric": finite(c.get("verify_metric")),
                    "stages": stages, "seconds": time_spent(c)})  # fmt: skip
    return out


def failure_groups(run: RunData) -> list[dict[str, Any]]:
    """Failed and rejected candidates grouped by stage and reason kind (as :meth:`RunData.failures`), each
    group with its count and one example (formula and full reason), largest group first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for c in run.candidates:
        if c["status"] not in DROPPED:
            continue
        first = (c["reason"] or "").splitlines()[0] if c["reason"] else ""
        key = (c["stage"] or "?", _mask(first)[:100])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"stage": key[0], "reason": key[1], "status": c["status"], "count": 0,
                                   "example_formula": c["formula"], "example_reason": c["reason"][:500]}  # fmt: skip
        group["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["stage"], g["reason"]))
