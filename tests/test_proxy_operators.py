"""benchmarks.proxy_operators: a real proxy training profiled in process, split by operator."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mmdet")

from benchmarks import proxy_operators  # noqa: E402
from benchmarks.readme import render  # noqa: E402

pytestmark = pytest.mark.mmdet


def test_profile_splits_the_learning_and_does_not_change_the_training(tiny_data, tmp_path):
    out = tmp_path / "results"
    code = proxy_operators.main(["--skip", "1", "--iterations", "2", "--out-dir", str(out),
                                 "--adapter-option", f"data_root={tiny_data}", "--adapter-option", "epochs=2",
                                 "--adapter-option", f"work_root={tmp_path}"])  # fmt: skip
    assert code == 0
    data = json.loads((out / "proxy_operators_fcos_tiny.json").read_text())
    parts = data["ms_per_iteration"]
    assert set(parts) == {p for p, _ in proxy_operators.PARTS} | {proxy_operators.OUTSIDE}
    assert parts["convolution forward"] > 0 and parts["convolution backward"] > 0
    assert parts["optimizer step (AdamW)"] > 0
    # the window is split, not invented: the parts add up to it
    assert sum(parts.values()) == pytest.approx(1000 * data["window_seconds"] / data["iterations"], rel=0.01)
    # profiling in process trains exactly what the adapter trained (same spec, seed, thread count)
    assert data["metric"] == data["adapter_metric"]
    assert not list(tmp_path.glob("gp-autoloss-mmdet-*"))  # its work directories are removed
    assert "the learning part by operator" in render(out)


def test_too_few_iterations_is_a_clear_error(tiny_data, tmp_path, capsys):
    code = proxy_operators.main(["--skip", "10", "--iterations", "10", "--out-dir", str(tmp_path / "results"),
                                 "--adapter-option", f"data_root={tiny_data}", "--adapter-option", "epochs=1",
                                 "--adapter-option", f"work_root={tmp_path}"])  # fmt: skip
    assert code == 2
    assert "fewer than --skip + --iterations" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
