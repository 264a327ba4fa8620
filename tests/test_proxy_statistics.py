"""The statistics that judge the detector proxy: rank correlation, paired verdicts, the targets table."""

from __future__ import annotations

import math

import pytest

from benchmarks.loss_table import summarize
from benchmarks.proxy_signal import ranks, spearman
from benchmarks.proxy_signal import summarize as summarize_signal


def test_ranks_average_ties() -> None:
    assert ranks([0.3, 0.1, 0.3, 0.2]) == [3.5, 1.0, 3.5, 2.0]


def test_spearman_on_known_orders() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert spearman([0.0, 0.0, 0.0], [1, 2, 3]) is None  # a constant metric ranks nothing


def _row(row: str, seed: int, stage: str, metric: float | None, seconds: float = 10.0) -> dict:
    return {"row": row, "prefix": row, "seed": seed, "stage": stage, "metric": metric, "error": None,
            "seconds": seconds}


def test_signal_summary_reads_targets_from_the_trainings() -> None:
    names = ["FL", "FLI", "weak"]
    rows = []
    for seed, values in ((0, (0.32, 0.33, 0.10)), (1, (0.315, 0.33, 0.12)), (2, (0.325, 0.32, 0.11))):
        rows += [_row(n, seed, "proxy", v, 60.0) for n, v in zip(names, values)]
    rows += [_row(n, 0, "verify", v, 6.0) for n, v in zip(names, (0.5, 0.6, 0.1))]
    result = summarize_signal("fcos_tiny", names, rows, [0, 1, 2], {"proxy": 1, "val": 1, "verify": 1}, {})
    assert result["level"] == pytest.approx(0.32)
    assert result["noise"] == pytest.approx(0.005)
    assert result["rankings"]["0"] == ["FLI", "FL", "weak"]
    assert result["rankings"]["2"] == ["FL", "FLI", "weak"]
    assert result["discrimination"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)  # seeds 0-1, 0-2, 1-2
    assert result["verify_spearman"] == pytest.approx(1.0)  # D_verify 0.5, 0.6, 0.1 vs proxy 0.32, 0.33, 0.10 (seed 0)
    met = {t["target"].split(":")[0]: t["met"] for t in result["targets"]}
    assert met == {"1 level": True, "2 noise": True, "3 discrimination": False, "4a cost": True, "4b cost": True,
                   "5 D_verify vs proxy Spearman": True}


def test_a_constant_verify_metric_fails_target_5() -> None:
    rows = [_row(n, s, "proxy", v) for s in (0, 1) for n, v in (("a", 0.3), ("b", 0.2))]
    rows += [_row(n, 0, "verify", 0.0) for n in ("a", "b")]
    result = summarize_signal("fcos_tiny", ["a", "b"], rows, [0, 1], {}, {})
    target = next(t for t in result["targets"] if t["target"].startswith("5"))
    assert result["verify_distinct"] == 1 and not target["met"]


def test_loss_table_verdict_is_paired_per_seed() -> None:
    """A row that beats the baseline by a steady 0.01 under every seed is 'better' even though both rows
    vary by far more than 0.01 across seeds (common random numbers); an unsteady gap is noise."""
    rows = []
    for seed, base in ((0, 0.30), (1, 0.36), (2, 0.24)):
        rows.append({"row": "base", "seed": seed, "mAP": base, "seconds": 1.0})
        rows.append({"row": "steady", "seed": seed, "mAP": base + 0.01 + 0.001 * seed, "seconds": 1.0})
        rows.append({"row": "unsteady", "seed": seed, "mAP": base + (0.03, -0.02, 0.0)[seed], "seconds": 1.0})
    table = {s["row"]: s for s in summarize(rows, "base")}
    assert table["base"]["verdict"] == "baseline"
    assert table["steady"]["verdict"] == "better"
    assert table["steady"]["vs_baseline"] == pytest.approx(0.011)
    assert table["steady"]["se_paired"] == pytest.approx(0.001 / math.sqrt(3))
    assert table["unsteady"]["verdict"] == "within noise"


def test_demo_heldout_verdict() -> None:
    pytest.importorskip("mmdet")
    from detectors_adapter.demo import format_comparison, paired_verdict

    better = paired_verdict([0.34, 0.35], [0.32, 0.33], (1, 2))
    assert better["verdict"] == "better" and better["mean"] == pytest.approx(0.02)
    noise = paired_verdict([0.34, 0.31], [0.32, 0.33], (1, 2))
    assert noise["verdict"] == "within noise"
    failed = paired_verdict([None, None], [0.32, 0.33], (1, 2))  # a failed training scores 0
    assert failed["verdict"] == "worse"
    text = format_comparison(better)
    assert "verdict: better" in text and "+0.0200 ± 0.0000" in text
