"""Regression: every built-in strategy, run again under its stored seed, walks the stored run's path exactly
(candidates, statuses, equivalence, parents, funnel counts, RNG states) with float metrics within the stated
tolerance -- on this CPU and under torch's other CPU kernels; see :mod:`tests.stored_runs`.

"Deterministic under a seed" means: on one machine, bit-identical; on another CPU, the same candidates and
decisions, metrics within :data:`~tests.stored_runs.compare.TOLERANCE`. The references are only trusted because
no selection in them is decided by less than that (checked here with shifted metrics).
"""

from __future__ import annotations

import copy

import pytest

from tests.stored_runs import RUNS, run, stored, under_capability
from tests.stored_runs.compare import TOLERANCE, compare, split_numbers


@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_equals_its_stored_reference(tmp_path, name):
    now, before = run(name, tmp_path / name), stored(name)
    assert [c["key"] for c in now["candidates"]] == [c["key"] for c in before["candidates"]]
    outcome = compare(now, before)
    assert outcome.same, outcome.explain()


@pytest.mark.parametrize("name", list(RUNS))
def test_the_reference_has_no_near_tie(tmp_path, name):
    """Every metric shifted by + or - half the tolerance (the toy_noisy adapter: more than any difference measured
    between CPU kernels): the same path, so no selection of the reference hangs on a difference another CPU
    could make."""
    noisy, before = run(name, tmp_path / name, noise_seed=101), stored(name)
    outcome = compare(noisy, before)
    assert not outcome.exact, outcome.explain()
    assert outcome.largest[0] > 0  # the shift did reach the metrics


@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_the_references_hold_under_other_cpu_kernels(capability):
    """The whole set, rerun in a fresh interpreter with ``ATEN_CPU_CAPABILITY`` set: torch's portable kernels
    and its AVX2 ones (this machine's own, often AVX-512, are the test above). The metrics may differ in the
    last digits, the decisions may not."""
    proc = under_capability(capability, list(RUNS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert f"CPU capability {capability.upper()}" in lines[0], lines[0]
    assert len(lines) == 1 + len(RUNS) and all(("identical" in ln or "same within tolerance" in ln) for ln in lines[1:])


# ---- the comparison itself --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference() -> dict:
    return stored("cse")


def _first(run: dict, stage: str) -> dict:
    return next(r for r in run["results"] if r["stage"] == stage and r["metric"] is not None)


def test_numbers_in_texts_are_split_out():
    assert split_numbers("D_verify metric below the top loss's (0.02017 < 0.4606)") == (
        "D_verify metric below the top loss's (# < #)", [0.02017, 0.4606])
    assert split_numbers("x=[30, -30, 1e-07] is nan")[1][:3] == [30.0, -30.0, 1e-07]


def test_a_metric_within_the_tolerance_is_the_same_one_beyond_is_not(reference):
    moved = copy.deepcopy(reference)
    result = _first(moved, "proxy")
    result["metric"] += 0.9 * TOLERANCE.margin(result["metric"])
    assert compare(moved, reference).same
    result["metric"] += 2 * TOLERANCE.margin(result["metric"])
    outcome = compare(moved, reference)
    assert not outcome.same and not outcome.exact
    assert "beyond the tolerance" in outcome.explain() and f"candidate {result['candidate']}" in outcome.explain()


def test_another_decision_is_reported_as_another_path(reference):
    parted = copy.deepcopy(reference)
    cand = next(c for c in parted["candidates"] if c["status"] == "rejected" and c["stage"] == "threshold")
    cand["status"], cand["stage"] = "evaluated", "proxy"
    outcome = compare(parted, reference)
    assert outcome.exact and not outcome.floats
    assert "took another path although every float before it agrees" in outcome.explain()
    assert f"candidate {cand['id']}" in outcome.explain()


def test_fingerprints_are_compared_as_the_equivalences_they_make(reference):
    renamed = copy.deepcopy(reference)
    for c in renamed["candidates"]:  # another CPU may hash a loss differently: same partition, new names
        c["fingerprint"] = "x" + c["fingerprint"]
    assert compare(renamed, reference).same
    merged = copy.deepcopy(reference)
    a, b = merged["candidates"][1], merged["candidates"][2]
    assert a["fingerprint"] != b["fingerprint"]
    b["fingerprint"] = a["fingerprint"]  # two losses now found equivalent that were not
    assert "equivalence class differs" in compare(merged, reference).explain()


def test_a_changed_rng_state_or_funnel_count_is_exact(reference):
    for key, value in (("rng_end", "0" * 16), ("stats", {**reference["generations"][0]["stats"], "valid": -1})):
        changed = copy.deepcopy(reference)
        changed["generations"][0][key] = value
        outcome = compare(changed, reference)
        assert outcome.exact and "generation 0" in outcome.exact[0]
