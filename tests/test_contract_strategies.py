"""The contract of the search-strategy extension point, over every registered strategy, on the toy adapter.

The strategies are collected from the registry when this module is imported: ``random``, ``vanilla``, ``cse``,
the test plugin's ``vanilla_half`` (the worked stage example of docs/extending.md), the installed plugins' and
those of the modules named in ``GP_AUTOLOSS_PLUGINS``. A new strategy is tested without editing this file::

    GP_AUTOLOSS_PLUGINS=my_plugin pytest tests/test_contract_strategies.py -k my_strategy

What every strategy must do, in tiny searches: a run interrupted after a generation and resumed ends as the
same run uninterrupted (the run files compared canonically: candidates, statuses, stage results, parents,
thresholds, funnel counts, RNG states; :func:`tests.stored_runs.canonical`), and its funnel counts add up
(each funnel column at most the one before; the candidates that reached the last stage are its evaluated plus
cached ones, every other one was rejected or failed by an earlier stage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gp_autoloss.execution.base import EXECUTORS
from gp_autoloss.plugins import import_plugin, load_plugins, plugins_used_by
from gp_autoloss.search import STRATEGIES, GenerationEvent, SearchConfig, SearchEngine
from gp_autoloss.search.stages import funnel_columns
from tests.conftest import example_plugins
from tests.stored_runs import canonical

import_plugin("tests.surrogate_stage_plugin", "the strategy contract")  # the documented plugin strategy
load_plugins(example_plugins())  # installed plugins, GP_AUTOLOSS_PLUGINS's and the example: their strategies are collected below

SPACE = "softmax_cls"
#: generations of a contract run, and the last one finished before the interruption
GENERATIONS, INTERRUPTED_AFTER = 3, 1
#: in-process evaluation when the example plugin's executor is there (no worker start-up), else ``local``
EXECUTOR = "inline" if "inline" in EXECUTORS else "local"


def settings(strategy: str) -> dict[str, Any]:
    """A tiny search of ``strategy`` on the toy adapter, with the plugins that registered what it uses."""
    return {"space": SPACE, "strategy": strategy, "adapter": "toy", "executor": EXECUTOR,
            "adapter_options": {"train_size": 256, "val_size": 128, "batch_size": 0, "steps": 5, "verify_size": 64,
                                "verify_steps": 3},
            "generations": GENERATIONS, "population": 6, "parents": 2, "top_k": 2, "seed": 5,
            "verify_margin": 0.05, "plugins": plugins_used_by(SPACE, "toy", strategy, EXECUTOR)}  # fmt: skip


class Interrupted(Exception):
    """Raised by a subscriber to stop a search, as a crash or Ctrl-C would, between two generations."""


def run_search(run_dir: Path, strategy: str, stop_after: int | None = None) -> None:
    """Run a contract search into ``run_dir``; ``stop_after``: interrupt it once that generation is stored."""
    engine = SearchEngine.create(SearchConfig(**settings(strategy)), run_dir)

    def stop(event: GenerationEvent) -> None:
        if event.generation == stop_after:
            raise Interrupted(f"after generation {stop_after}")

    engine.subscribe(stop)
    try:
        engine.run()
    finally:
        engine.close()


def resume(run_dir: Path) -> None:
    """Resume the run in ``run_dir`` to its end, as ``gp-autoloss search --resume`` does."""
    engine = SearchEngine.open(run_dir)
    try:
        engine.run()
    finally:
        engine.close()


@pytest.fixture(scope="module", params=STRATEGIES.names())
def finished(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Each registered strategy and the directory of its uninterrupted contract run."""
    run_dir = tmp_path_factory.mktemp(f"strategy-{request.param}") / "run"
    run_search(run_dir, request.param)
    return request.param, run_dir


def test_an_interrupted_and_resumed_run_equals_the_uninterrupted_run(finished, tmp_path):
    strategy, whole = finished
    run_dir = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_search(run_dir, strategy, stop_after=INTERRUPTED_AFTER)
    part = canonical(run_dir)
    assert [g["generation"] for g in part["generations"]] == list(range(INTERRUPTED_AFTER + 1))
    resume(run_dir)
    assert canonical(run_dir) == canonical(whole)


def test_the_funnel_counts_add_up(finished):
    strategy, run_dir = finished
    stages = STRATEGIES.get(strategy).pipeline()
    columns = funnel_columns(stages)
    fitness = stages[-1].results[0]
    run = canonical(run_dir)
    assert [g["generation"] for g in run["generations"]] == list(range(GENERATIONS))
    for gen in run["generations"]:
        stats, g = gen["stats"], gen["generation"]
        assert all(c.field in stats for c in columns), f"{strategy}: a counter is missing from {sorted(stats)}"
        counts = [stats[c.field] for c in columns if c.funnel and isinstance(stats[c.field], int)]
        assert counts == sorted(counts, reverse=True), f"{strategy} generation {g}: funnel {counts} grows"

        rows = [c for c in run["candidates"] if c["generation"] == g]
        assert stats["generated"] == len(rows) and stats["unique"] == len({c["fingerprint"] for c in rows})
        last = {r["candidate"]: r for r in run["results"] if r["stage"] == fitness}
        reached = [c for c in rows if c["id"] in last]
        evaluated = sum(1 for c in reached if not last[c["id"]]["cached"])
        for field, value in ((f"{fitness}_evaluated", evaluated), (f"{fitness}_cached", len(reached) - evaluated)):
            if field in stats:
                assert stats[field] == value, f"{strategy} generation {g}: {field}"
        for c in reached:  # the last stage decided: evaluated if its result is ok, else failed
            assert c["status"] == ("evaluated" if last[c["id"]]["ok"] else "failed"), c
        stopped = [c for c in rows if c["id"] not in last]
        assert all(c["status"] in ("rejected", "failed") and c["stage"] != fitness for c in stopped), stopped
        assert len(reached) + len(stopped) == stats["generated"]
