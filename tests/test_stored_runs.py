"""Regression: every built-in strategy, run again under its stored seed, gives the stored run exactly
(candidates, statuses, every stage result, parents, thresholds, funnel counts, RNG states); see
:mod:`tests.stored_runs`."""

from __future__ import annotations

import pytest

from tests.stored_runs import RUNS, run, stored


@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_equals_its_stored_reference(tmp_path, name):
    now, before = run(name, tmp_path / name), stored(name)
    assert [c["key"] for c in now["candidates"]] == [c["key"] for c in before["candidates"]]
    assert now["candidates"] == before["candidates"]
    assert now["results"] == before["results"]
    assert now["generations"] == before["generations"]
