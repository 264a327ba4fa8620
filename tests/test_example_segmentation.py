"""The example plugin package ``examples/segmentation`` works through every command, as a user installs it.

It is an installed package (``make setup-core`` installs it: ``pip install --no-deps -e examples/segmentation``)
without an entry point, so it is inactive until asked for: every command below asks through
``GP_AUTOLOSS_PLUGINS=gpa_segmentation`` (as a user's shell would), and a command without it does not know the
plugin's names. Every command runs as a subprocess of the real CLI: show, check, render, search with each
strategy, resume, report (every DAG drawn) and export (parsed back). Sizes are tiny: a run is a few seconds of
training.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.conftest import run_cli as _run_cli

INSTALL = "python -m pip install --no-deps --no-build-isolation -e examples/segmentation (make setup-core does it)"

if find_spec("gpa_segmentation") is None:
    pytest.skip(f"the example plugin package is not installed: {INSTALL}", allow_module_level=True)

#: how every command below asks for the example
ASK = {"GP_AUTOLOSS_PLUGINS": "gpa_segmentation"}

SPACE = ["--space", "bin_seg"]
#: seconds per command: generous, for a loaded machine (each is a few seconds of CPU)
TIMEOUT = 900


def run_cli(*args: str, timeout: float = TIMEOUT):
    """The CLI as a subprocess (:func:`tests.conftest.run_cli`) that asks for the example, with this module's
    time limit."""
    return _run_cli(*args, env=ASK, timeout=timeout)


#: a few images and steps: an evaluation takes milliseconds
TINY = ["--adapter", "seg_blobs", "--adapter-option", "steps=4", "--adapter-option", "verify_steps=2",
        "--adapter-option", "train_images=6", "--adapter-option", "val_images=4", "--adapter-option",
        "verify_images=2", "--adapter-option", "size=10", "--adapter-option", "channels=2"]  # fmt: skip
SEARCH = ["search", *SPACE, *TINY, "--population", "6", "--parents", "2", "--top-k", "2", "--seed", "3",
          "--time-limit", "120", "-q"]  # fmt: skip
#: an initial loss that uses the plugin's primitive, so the report must draw ``square``
SQUARED = "square(sigmoid(x) - g)"


def _ok(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _search(out: Path, strategy: str, *extra: str) -> None:
    _ok(run_cli(*SEARCH, "--strategy", strategy, "--out", str(out), *extra))


def _report_json(run: Path) -> dict:
    return json.loads(_ok(run_cli("report", str(run), "--json")))


def _candidates(run: Path) -> list[dict]:
    """The run's candidates with their stage results, read as ``report`` reads them (no plugin needed)."""
    from gp_autoloss.reporting.data import load_run

    return load_run(run).candidates


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny run per strategy (random on the plugin's ``inline`` executor, the others on the core's ``local``
worker processes, which import the plugin too); the vanilla one is resumed to a second generation below."""
    root = tmp_path_factory.mktemp("seg_runs")
    out = {s: root / s for s in ("random", "vanilla", "cse")}
    _search(out["random"], "random", "--generations", "1", "--executor", "inline")  # the plugin's executor
    _search(out["vanilla"], "vanilla", "--generations", "1", "--initial", SQUARED)
    _search(out["cse"], "cse", "--generations", "2")
    return out


def test_the_package_is_installed_but_inactive_until_asked_for():
    from importlib.metadata import distribution

    dist = distribution("gpa-segmentation")  # installed from its own setup.py ...
    assert "gp_autoloss.plugins" not in (dist.read_text("entry_points.txt") or "")  # ... without an entry point
    # a command that does not ask for it does not know its names; one that asks does
    env = {"GP_AUTOLOSS_PLUGINS": ""}
    plain = _run_cli("show", "square(x - g)", "--space", "bin_seg", env=env, timeout=TIMEOUT)
    assert plain.returncode == 2 and "unknown" in plain.stderr and "bin_seg" in plain.stderr
    assert _ok(_run_cli("show", "square(x - g)", "--space", "bin_seg", "--plugin", "gpa_segmentation",
                        env=env, timeout=TIMEOUT))  # fmt: skip


def test_show_knows_the_plugin_space_primitive_and_known_loss():
    out = _ok(run_cli("show", "bce_seg"))
    assert "bin_seg" in out and "softplus(x) - g * x" in out
    out = _ok(run_cli("show", "square(x - g) / 2", *SPACE))
    assert "square(x - g) / 2" in out and "Scalar" in out


def test_check_runs_the_plugin_probes_and_convergence_property():
    verdict = json.loads(_ok(run_cli("check", "bce_seg", "--json")))
    assert verdict["passed"] is True and verdict["convergence"]["passed"] is True  # checked, not "not checked"
    assert _ok(run_cli("check", SQUARED, *SPACE))
    # a loss that rises with a foreground pixel's logit fails the plugin's convergence curves
    wrong = run_cli("check", "softplus(x) + g * x", *SPACE)
    assert wrong.returncode == 1 and "not monotone" in wrong.stdout + wrong.stderr
    # one that does not depend on the prediction is invalid (the core's rule, on the plugin's probes)
    assert run_cli("check", "square(g) + 1", *SPACE).returncode == 1


def test_render_draws_the_plugin_primitive(tmp_path):
    out = tmp_path / "sq.dot"
    _ok(run_cli("render", SQUARED, *SPACE, "-o", str(out)))
    assert "square" in out.read_text()


def test_unknown_adapter_option_is_refused_before_a_run_exists(tmp_path):
    run = tmp_path / "typo"
    proc = run_cli(*SEARCH, "--strategy", "random", "--generations", "1", "--adapter-option", "stepz=3",
                   "--out", str(run))  # fmt: skip
    assert proc.returncode == 2 and "did you mean steps" in proc.stderr and not run.exists()


@pytest.mark.parametrize("strategy", ["random", "vanilla", "cse"])
def test_search_with_each_strategy_scores_candidates(runs, strategy):
    cands = _candidates(runs[strategy])
    assert len(cands) >= 6
    initial = next(c for c in cands if c["origin"] == "initial")
    assert initial["formula"] == (SQUARED if strategy == "vanilla" else "softplus(x) - g * x")
    scored = [c for c in cands if c.get("proxy_ok")]
    assert scored and all(0.0 <= c["proxy_metric"] <= 1.0 for c in scored)
    config = _report_json(runs[strategy])["config"]
    assert config["space"] == "bin_seg" and "gpa_segmentation" in config["plugins"]


def test_resume_continues_the_run(runs):
    run = runs["vanilla"]
    before = _candidates(run)
    generations = len(_report_json(run)["generations"])
    assert {c["generation"] for c in before} == {-1, 0}  # the initial loss (-1) and one generation
    _ok(run_cli("search", "--out", str(run), "--resume", "--generations", "2", "-q"))
    after = _candidates(run)
    assert [c["key"] for c in after[: len(before)]] == [c["key"] for c in before]  # the first generation kept
    assert any(c["generation"] == 1 and c.get("proxy_ok") for c in after)  # a second one bred and scored
    assert len(_report_json(run)["generations"]) == generations + 1


@pytest.mark.parametrize("strategy", ["random", "vanilla", "cse"])
def test_report_draws_every_dag(runs, strategy, tmp_path):
    from gp_autoloss.reporting.tables import DAG_ENTRIES

    page_path = tmp_path / "report.html"
    proc = run_cli("report", str(runs[strategy]), "--html", str(page_path), "--output-dir", str(tmp_path))
    _ok(proc)
    page = page_path.read_text()
    board = _report_json(runs[strategy])["leaderboard"]
    assert board
    assert page.count('<details class="dag"') == min(DAG_ENTRIES, len(board))
    assert "dag-note" not in page and "not drawn" not in proc.stderr
    if strategy == "vanilla":  # the initial loss uses the plugin's primitive: its DAG names it
        assert re.search(r'<details class="dag".*?square', page, re.S)


def test_export_parses_back(runs, tmp_path):
    """Every format's output is read back by another command (this test process never imports the plugin)."""
    run = str(runs["cse"])
    text = _ok(run_cli("export", run)).strip()
    data = json.loads(_ok(run_cli("export", run, "--format", "json")))
    assert data["space"] == "bin_seg" and data["formula"] == text
    assert _ok(run_cli("export", run, "--format", "prefix")).strip() == data["prefix"]
    for form in (text, data["prefix"]):  # infix and prefix parse back to the same loss
        assert f"infix:  {text}" in _ok(run_cli("show", form, *SPACE))
    snippet = tmp_path / "seg_loss.py"
    snippet.write_text(_ok(run_cli("export", run, "--format", "seg_torch")) + (
        "import torch\n"
        "x, g = torch.randn(20, dtype=torch.float64), (torch.rand(20) < 0.3).double()\n"
        f"assert torch.allclose(seg_loss(x=x, g=g), parse({text!r}, 'bin_seg').to_torch()(x=x, g=g))\n"
        "print('ok')\n"
    ))  # fmt: skip
    proc = subprocess.run([sys.executable, str(snippet)], capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO_ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    # a format of the detection plugin does not apply to this space: one line, exit 2
    other = run_cli("export", run, "--format", "mmdet")
    assert other.returncode == 2 and "bin_seg" in other.stderr
