"""Proxy budgets of the mmdet adapter: rungs of successive halving continue one training through a state folder.

Real (tiny) fcos_tiny trainings, no mocks: the chain of budgets 1/9, 1/3, 2/3, 1 of a 3-epoch proxy (stops 1, 1,
2, 3: a fresh rung, a rung that only tests the state saved before, two continuations) gives the plain proxy's
metrics, and the final weights of one long run, bit for bit on one machine, since the continued run restores everything a long run carries from one
epoch to the next (weights, AdamW moments, scheduler steps, loop counters, the python/numpy/torch random
states; the sampler is reseeded every epoch) and runs the same single-threaded CPU kernels.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

from detectors_adapter.data import generate_dataset  # noqa: E402
from detectors_adapter.fitness import MMDetFitnessAdapter  # noqa: E402
from detectors_adapter.spec import TrainSpec  # noqa: E402
from gp_autoloss import known_loss  # noqa: E402
from gp_autoloss.errors import ConfigError  # noqa: E402
from gp_autoloss.fitness.base import adapter_supports_budget  # noqa: E402
from gp_autoloss.fitness.budget import score  # noqa: E402

pytestmark = pytest.mark.mmdet

SEED = 1
CHAIN = ("proxy@1/9", "proxy@1/3", "proxy@2/3", "proxy")  # with 3 epochs: stop after 1, 1, 2, 3
LOSS = "cse_b_cls"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    generate_dataset(root, n_train=48, n_val=16, seed=0)
    return root


@pytest.fixture(scope="module")
def adapter(tiny_data: Path):
    adapter = MMDetFitnessAdapter("sigmoid_cls", detector="fcos_tiny", data_root=str(tiny_data), epochs=3,
                                  threads=1, time_limit=600)  # fmt: skip
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def chain(adapter: MMDetFitnessAdapter, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The budgets of :data:`CHAIN` through one state folder, and one plain proxy run of the same loss and seed."""
    folder = tmp_path_factory.mktemp("states") / "loss"
    loss = known_loss(LOSS)
    rungs = []
    for fidelity in CHAIN:
        metric = score(adapter, fidelity, loss, SEED, state=str(folder))
        rungs.append({"fidelity": fidelity, "metric": metric, **adapter.last_result})
    proxy = adapter.proxy(loss, SEED)
    proxy_result = dict(adapter.last_result)
    one_run = folder.parent / "one_run"  # the proxy's run once more, saving its final state: nothing to continue
    score(adapter, "proxy", loss, SEED, state=str(one_run))
    return {"folder": folder, "rungs": rungs, "proxy": proxy, "proxy_result": proxy_result, "one_run": one_run,
            "one_run_result": dict(adapter.last_result)}  # fmt: skip


def test_the_adapter_declares_budgets() -> None:
    assert MMDetFitnessAdapter.supports_budget is True
    assert adapter_supports_budget("mmdet") is True  # the plugin's lazy registration says so without importing


def test_bad_budgets_and_stop_epochs_are_config_errors(adapter: MMDetFitnessAdapter, tiny_data: Path,
                                                       tmp_path: Path) -> None:  # fmt: skip
    from detectors_adapter.build_config import build_config

    for bad in (Fraction(0), Fraction(3, 2)):
        with pytest.raises(ConfigError, match="fraction in"):
            adapter.proxy_budget(known_loss(LOSS), SEED, bad, str(tmp_path))
    with pytest.raises(ConfigError, match="proxy stage"):
        adapter.train(known_loss(LOSS).to_prefix(), SEED, "verify", stop_epoch=1)
    spec = TrainSpec(detector="fcos_tiny", space="sigmoid_cls", formula=None,
                     train_ann=str(tiny_data / "annotations/train.json"), train_images=str(tiny_data / "train"),
                     test_ann=str(tiny_data / "annotations/val.json"), test_images=str(tiny_data / "val"),
                     classes=["rectangle", "frame", "ellipse", "ring", "triangle", "cross"], epochs=3,
                     work_dir=str(tmp_path), result=str(tmp_path / "r.json"), train_size=16)  # fmt: skip
    assert all(h["type"] != "ProxyBudgetHook" for h in build_config(spec).custom_hooks)  # no budget: today's run
    spec.stop_epoch, spec.state_out = 2, str(tmp_path / "s.pt")
    hook = build_config(spec).custom_hooks[-1]
    assert hook["type"] == "ProxyBudgetHook" and hook["stop_epoch"] == 2 and hook["out"] == spec.state_out
    assert build_config(spec).train_cfg.max_epochs == 3  # the schedule stays the whole run's
    spec.stop_epoch = 4
    with pytest.raises(ConfigError, match="stop_epoch must be in 1..3"):
        build_config(spec)


def test_continued_budgets_give_the_plain_proxy_metric(chain: dict) -> None:
    rungs = chain["rungs"]
    assert [r["budget"]["start_epoch"] for r in rungs] == [0, 1, 1, 2]
    assert [r["budget"]["stop_epoch"] for r in rungs] == [1, 1, 2, 3]
    assert [r["budget"]["saved"] is not None for r in rungs] == [True, False, True, True]
    assert rungs[0]["metric"] == rungs[1]["metric"]  # 1/3 of 3 epochs is the 1/9 rung's epoch: only tested again
    assert rungs[-1]["iters"] == chain["proxy_result"]["iters"]
    # exact: the continued epochs are those of one long run (see the module docstring)
    assert rungs[-1]["metric"] == chain["proxy"]
    assert rungs[-1]["metrics"] == chain["proxy_result"]["metrics"]
    assert chain["one_run_result"]["budget"]["start_epoch"] == 0
    assert chain["one_run_result"]["metrics"] == chain["proxy_result"]["metrics"]


def test_continued_weights_equal_one_long_run_bit_for_bit(adapter: MMDetFitnessAdapter, chain: dict) -> None:
    import torch

    continued = torch.load(adapter.state_files(chain["folder"], SEED)[3], weights_only=True)
    one_run = torch.load(adapter.state_files(chain["one_run"], SEED)[3], weights_only=True)
    assert continued["iter"] == one_run["iter"] == chain["proxy_result"]["iters"]
    assert continued["model"].keys() == one_run["model"].keys()
    for key, value in one_run["model"].items():
        assert torch.equal(continued["model"][key], value), key
    moments = [(continued["optimizer"]["state"][i], s) for i, s in one_run["optimizer"]["state"].items()]
    assert moments and all(torch.equal(a["exp_avg"], b["exp_avg"]) for a, b in moments)
    assert continued["param_schedulers"] == one_run["param_schedulers"]


def test_a_state_file_per_stop_epoch_loads_weights_only(adapter: MMDetFitnessAdapter, chain: dict) -> None:
    import torch

    files = adapter.state_files(chain["folder"], SEED)
    assert sorted(files) == [1, 2, 3]
    assert not [p for p in chain["folder"].iterdir() if p.name.endswith(".tmp")]
    assert adapter.state_files(chain["folder"], SEED + 1) == {}  # another seed's states are others
    for epoch, path in files.items():
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state["epoch"] == epoch and state["max_epochs"] == 3
        assert state["iter"] == epoch * chain["proxy_result"]["iters"] // 3
        assert {"model", "optimizer", "param_schedulers", "rng"} <= set(state)
        assert all(isinstance(v, torch.Tensor) for v in state["model"].values())


def test_a_damaged_state_is_trained_again(adapter: MMDetFitnessAdapter, chain: dict, tmp_path: Path) -> None:
    folder = tmp_path / "loss"
    shutil.copytree(chain["folder"], folder)
    files = adapter.state_files(folder, SEED)
    files[3].unlink()
    files[2].write_bytes(files[2].read_bytes()[:1000])  # truncated, as by a crash of a non-atomic writer
    files[1].write_bytes(b"not a state")
    metric = adapter.proxy_budget(known_loss(LOSS), SEED, Fraction(1, 3), str(folder))  # stop 1: from scratch
    budget = adapter.last_result["budget"]
    assert budget["start_epoch"] == 0 and budget["loaded"] is None
    assert [Path(p).name for p, _ in budget["skipped"]] == [files[1].name]
    assert metric == chain["rungs"][0]["metric"]  # the same first epoch as the chain's
    import torch

    assert torch.load(files[1], weights_only=True)["epoch"] == 1  # replaced by a good one
    assert json.dumps(budget)  # the result stays JSON
    metric = adapter.proxy_budget(known_loss(LOSS), SEED, Fraction(2, 3), str(folder))  # epoch 2 is damaged
    budget = adapter.last_result["budget"]
    assert budget["start_epoch"] == 1 and Path(budget["loaded"]).name == files[1].name
    assert [Path(p).name for p, _ in budget["skipped"]] == [files[2].name]
    assert adapter.last_result["metrics"] == chain["rungs"][2]["metrics"]


def test_a_relative_state_folder_is_continued(adapter: MMDetFitnessAdapter, chain: dict, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A run folder given relative to the working directory (``--runs-dir benchmarks/results/runs``): the training
    process runs in its own work directory, yet it continues from and saves to the same folder (it once trained
    every rung from the start there, unseen in the metrics, which are the same either way)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(chain["folder"], tmp_path / "run" / "loss")
    adapter.state_files(tmp_path / "run" / "loss", SEED)[3].unlink()
    adapter.proxy_budget(known_loss(LOSS), SEED, Fraction(1), "run/loss")
    budget = adapter.last_result["budget"]
    assert budget["start_epoch"] == 2 and Path(budget["loaded"]).name == f"{adapter._state_prefix(SEED)}2.pt"
    assert sorted(adapter.state_files(tmp_path / "run" / "loss", SEED)) == [1, 2, 3]  # saved where it was asked
    assert adapter.last_result["metrics"] == chain["proxy_result"]["metrics"]
