"""Successive halving (``rung_1``, ``rung_2``, ``proxy_continued``; strategies ``vanilla_sh`` and ``cse_sh``) on
the real toy adapter, the real engine and real run files.

What it must do: a rung continues the previous rung's training, so the chain 1/9 -> 1/3 -> 1 gives the whole
proxy's metric (on one machine the same steps in the same order: exactly); each rung keeps the best third of its
distinct losses; a decided loss leaves no state behind; a strategy with rungs refuses an adapter without budgets
before anything is created; and a run killed in the middle of a rung resumes to the run that was never killed
(the contract suite, ``tests/test_contract_strategies.py``, covers interruption between generations).
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from gp_autoloss.errors import ConfigError
from gp_autoloss.fidelity import budget_fidelity, full_proxy_equivalents, parse_fidelity
from gp_autoloss.fitness import create_adapter, score
from gp_autoloss.known import known_loss
from gp_autoloss.search import SearchConfig, SearchEngine
from gp_autoloss.search.books import STATES_DIR
from tests.stored_runs import canonical

ROOT = Path(__file__).resolve().parents[1]
#: small toy settings: 18 proxy steps, so the rungs stop at steps 2, 6 and 18
TINY = {"train_size": 512, "val_size": 256, "batch_size": 64, "steps": 18, "verify_size": 64, "verify_steps": 5}
LOSSES = {"softmax_cls": "ce", "sigmoid_cls": "fl", "iou_reg": "giou"}


@pytest.mark.parametrize("space", sorted(LOSSES))
def test_the_rungs_continued_give_the_whole_proxy(space, tmp_path):
    adapter = create_adapter("toy", space, **TINY)
    loss = known_loss(LOSSES[space])
    whole = adapter.proxy(loss, 3)
    chain = [score(adapter, f, loss, 3, str(tmp_path)) for f in ("proxy@1/9", "proxy@1/3", "proxy")]
    assert chain[-1] == whole  # the same steps in the same order on this machine
    assert chain[0] != whole and chain[1] != whole  # a rung is a shorter training, not the whole one
    steps = sorted(int(p.stem.rpartition("step")[2]) for p in tmp_path.glob("*.pt"))
    assert steps == [2, 6, 18]
    # a budget trained from nothing equals the same budget continued from a smaller one
    assert score(adapter, "proxy@1/3", loss, 3, None) == chain[1]


def test_a_damaged_state_is_trained_again(tmp_path):
    adapter = create_adapter("toy", "softmax_cls", **TINY)
    loss = known_loss("ce")
    first = score(adapter, "proxy@1/9", loss, 0, str(tmp_path))
    for saved in tmp_path.glob("*.pt"):
        saved.write_bytes(b"not a state")
    assert score(adapter, "proxy", loss, 0, str(tmp_path)) == adapter.proxy(loss, 0)
    assert first != adapter.proxy(loss, 0)


def test_fidelity_names_round_trip_and_bad_ones_are_one_line():
    assert budget_fidelity(Fraction(1, 9)) == "proxy@1/9" and budget_fidelity(1) == "proxy"
    assert parse_fidelity("proxy@1/3") == ("proxy", Fraction(1, 3)) and parse_fidelity("verify") == ("verify", None)
    for bad in ("proxy@0/3", "proxy@4/3", "proxy@x", "proxy@0.5", "train"):
        with pytest.raises(ConfigError, match="unknown fidelity"):
            parse_fidelity(bad)
    # a loss's rungs continue one another: it costs its largest budget
    assert full_proxy_equivalents([["proxy@1/9", "proxy@1/3", "proxy"], ["proxy@1/9"], ["verify"]]) == pytest.approx(10 / 9)


def _config(strategy: str, **extra: object) -> SearchConfig:
    settings = {"space": "softmax_cls", "strategy": strategy, "adapter": "toy", "adapter_options": dict(TINY),
                "generations": 2, "population": 16, "parents": 2, "top_k": 2, "seed": 4, "verify_margin": 0.05}
    settings.update(extra)
    return SearchConfig(**settings)  # type: ignore[arg-type]


def _search(config: SearchConfig, run_dir: Path):  # type: ignore[no-untyped-def]
    engine = SearchEngine.create(config, run_dir)
    try:
        return engine.run()
    finally:
        engine.close()


def test_each_rung_keeps_the_best_third_and_leaves_no_state(tmp_path):
    run_dir = tmp_path / "run"
    summary = _search(_config("vanilla_sh"), run_dir)
    run = canonical(run_dir)
    metric = {(r["candidate"], r["stage"]): r["metric"] for r in run["results"] if r["ok"]}
    fp = {c["id"]: c["fingerprint"] for c in run["candidates"]}
    for gen in run["generations"]:
        g, stats = gen["generation"], gen["stats"]
        ids = [c["id"] for c in run["candidates"] if c["generation"] == g]
        earlier = {fp[c["id"]] for c in run["candidates"] if c["generation"] < g and (c["id"], "proxy") in metric}
        for fidelity, rung, nxt in (("proxy@1/9", "rung_1", "proxy@1/3"), ("proxy@1/3", "rung_2", "proxy")):
            best = {}  # each distinct loss the rung scored, with its metric
            for i in ids:
                if (i, fidelity) in metric:
                    best[fp[i]] = metric[(i, fidelity)]
            went_on = {fp[i] for i in ids if any(r["candidate"] == i and r["stage"] == nxt for r in run["results"])}
            quota = math.ceil(len(best) / 3)
            top = sorted(best.values(), reverse=True)[:quota]
            assert stats[f"{rung}_kept"] == len(went_on), (g, rung)
            # the best third went on, and besides them only losses whose whole proxy an earlier generation paid
            assert {f for f in best if best[f] >= top[-1]} <= went_on, (g, rung)
            assert went_on - {f for f in best if best[f] >= top[-1]} <= earlier, (g, rung)
            rejected = [c for c in run["candidates"] if c["generation"] == g and c["stage"] == rung]
            assert rejected and all(metric[(c["id"], fidelity)] <= top[-1] for c in rejected), (g, rung)
            assert all("not in the top 1/3" in c["reason"] for c in rejected)
    assert not any((run_dir / STATES_DIR).glob("*/*")), "a decided loss's training state was left behind"
    # each loss that reached the end has the whole proxy's metric: the continued chain equals a plain training
    adapter = create_adapter("toy", "softmax_cls", **TINY)
    from gp_autoloss.loss import parse

    finals = [c for c in run["candidates"] if (c["id"], "proxy") in metric and c["origin"] != "initial"][:2]
    seed = 4 * 1000 + 17  # the engine's evaluation seed for search seed 4
    rows = {c.id: c.prefix for c in _candidates(run_dir)}
    for c in finals:
        assert adapter.proxy(parse(rows[c["id"]], "softmax_cls"), seed) == metric[(c["id"], "proxy")]
    # the rungs cost a fraction of training every candidate to the end
    assert summary.budget_evaluations["proxy@1/9"] > summary.proxy_evaluations
    assert summary.proxy_equivalents < 0.5 * summary.budget_evaluations["proxy@1/9"]


def _candidates(run_dir: Path):  # type: ignore[no-untyped-def]
    from gp_autoloss.search import RunStorage

    store = RunStorage.open(run_dir)
    try:
        return store.candidates()
    finally:
        store.close()


def test_rungs_need_an_adapter_with_budgets(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "gp_autoloss", "search", "--out", str(run_dir), "--strategy", "cse_sh",
           "--adapter", "faulty", "--plugin", "tests.fault_plugin", "-N", "4", "-E", "1", "-K", "1", "-P", "1"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no proxy budgets" in lines[0] and "rung_1, rung_2" in lines[0], done.stderr
    assert not run_dir.exists()


@pytest.mark.parametrize("strategy", ["cse_sh", "vanilla_sh"])
def test_a_run_killed_in_the_middle_of_a_rung_resumes_to_the_run_never_killed(strategy, tmp_path):
    marker = tmp_path / "killed"
    options = {**TINY, "marker": str(marker)}
    common = ["--strategy", strategy, "--adapter", "toy_killer", "--plugin", "tests.halving_kill_plugin",
              "-N", "16", "-E", "2", "-P", "2", "--seed", "4", "--verify-margin", "0.05", "--quiet",
              *[a for k, v in options.items() for a in ("--adapter-option", f"{k}={v}")]]  # fmt: skip

    def search(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "gp_autoloss", "search", "--out", str(run_dir), *extra]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)

    killed = tmp_path / "killed_run"
    first = search(killed, *common)
    assert first.returncode == -9 and marker.exists(), (first.returncode, first.stderr[-2000:])
    part = canonical(killed)
    stages = [r["stage"] for r in part["results"]]
    assert "proxy@1/3" in stages, "killed before the second rung started"
    assert any((killed / STATES_DIR).glob("*/*.pt")), "the first rung's training states are gone"
    resumed = search(killed, "--resume", "--quiet", "--plugin", "tests.halving_kill_plugin")
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    whole = tmp_path / "whole_run"
    done = search(whole, *common)
    assert done.returncode == 0, done.stderr[-2000:]
    assert canonical(killed) == canonical(whole)


def test_the_documented_four_rung_strategy_runs(tmp_path):
    """docs/extending.md's ladder with a 1/27 rung, as a user's plugin module, through the CLI."""
    import os
    import re

    page = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(from fractions import Fraction\nfrom gp_autoloss\.search\.stages import "
                      r"register_stage, rung_stage\n.*?)```", page, re.S)  # fmt: skip
    assert block, "docs/extending.md lost the four-rung example"
    (tmp_path / "ladder_plugin.py").write_text(block.group(1), encoding="utf-8")
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    cmd = [sys.executable, "-m", "gp_autoloss", "search", "--out", str(run_dir), "--plugin", "ladder_plugin",
           "--strategy", "vanilla_sh4", "-N", "12", "-E", "1", "-P", "2", "--quiet",
           *[a for k, v in TINY.items() for a in ("--adapter-option", f"{k}={v}")]]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rungs = next(line for line in done.stdout.splitlines() if line.startswith("rungs:"))
    assert "proxy@1/27" in rungs and "proxy@1/9" in rungs and "proxy@1/3" in rungs, rungs


def test_a_relative_run_dir_gives_absolute_state_folders(tmp_path, monkeypatch):
    """The jobs carry the loss's state folder to workers and training processes that may run elsewhere (the mmdet
    adapter's runs in its own work directory): a run created as ``run`` relative to the working directory still
    names folders inside ``run``, absolutely."""
    monkeypatch.chdir(tmp_path)
    engine = SearchEngine.create(_config("cse_sh"), Path("run"))
    try:
        cand = engine.books.register(known_loss("ce"), -1, "initial", [])
        folder = Path(engine.books.state_folder(cand))
    finally:
        engine.close()
    assert folder.is_absolute()
    assert folder == tmp_path / "run" / STATES_DIR / cand.fingerprint
