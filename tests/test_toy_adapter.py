"""The built-in ``toy`` fitness adapter: real training on synthetic detection data, no mocks."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

import gp_autoloss as ga
from gp_autoloss.errors import ConfigError
from gp_autoloss.fitness import ADAPTERS, CandidateFailed, FitnessAdapter, create_adapter
from gp_autoloss.fitness.toy import ToyAdapter
from gp_autoloss.fitness.toy.metrics import IOU_THRESHOLDS, box_iou_terms, coco_ap, mean_recall_over_thresholds

SPACES = ("softmax_cls", "sigmoid_cls", "iou_reg")

GOOD = {
    "softmax_cls": ["ce", "cei", "cse_a_cls"],
    "sigmoid_cls": ["bce", "fl", "fli", "cse_b_cls"],
    "iou_reg": ["iou", "giou", "cse_a_reg", "cse_b_reg"],
}
BROKEN = {
    "softmax_cls": ["dot(y, log(softmax(x)))", "dot(y, y)", "dot(y, softmax(x))"],
    "sigmoid_cls": ["y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x))", "y * y", "sigmoid(x)"],
    "iou_reg": ["i / u", "u / u"],
}
NAN_LOSS = {
    "softmax_cls": "sqrt(dot(y, log(softmax(x))))",
    "sigmoid_cls": "log(-sigmoid(x))",
    "iou_reg": "sqrt(-u)",
}


@pytest.fixture(scope="module")
def adapters() -> dict[str, FitnessAdapter]:
    """One adapter per space the toy adapter scores (an installed plugin may register others), shared so each
    seed's data is generated once."""
    return {sp: create_adapter("toy", sp) for sp in ToyAdapter.spaces}


# ---- metrics ------------------------------------------------------------------------------------------
def _reference_ap(scores: torch.Tensor, labels: torch.Tensor, iou: torch.Tensor, group: torch.Tensor) -> float:
    """COCO 101-point AP, written plainly: per class NMS within groups, greedy PR curve, envelope."""
    n, k = scores.shape
    aps = []
    for c in range(k):
        kept: dict[int, int] = {}
        for i in range(n):
            gid = int(group[i])
            if gid not in kept or scores[i, c] > scores[kept[gid], c]:
                kept[gid] = i
        dets = sorted(kept.values(), key=lambda i: (-float(scores[i, c]), i))
        num_gt = len({int(group[i]) for i in range(n) if int(labels[i]) == c})
        if num_gt == 0:
            continue
        for t in IOU_THRESHOLDS.tolist():
            tp = [int(labels[i]) == c and float(iou[i]) >= t for i in dets]
            prec, rec, hits = [], [], 0
            for rank, hit in enumerate(tp, 1):
                hits += hit
                prec.append(hits / rank)
                rec.append(hits / num_gt)
            total = 0.0
            for r in torch.linspace(0, 1, 101).tolist():
                reached = [p for p, rc in zip(prec, rec) if rc >= r]
                total += max(reached) if reached else 0.0
            aps.append(total / 101)
    return sum(aps) / len(aps)


def test_coco_ap_matches_a_plain_reference() -> None:
    g = torch.Generator().manual_seed(0)
    n, k = 60, 3
    labels = torch.randint(0, k + 1, (n,), generator=g)  # k = background
    group = torch.randint(0, 25, (n,), generator=g)
    labels = labels[group]  # boxes of one object share its class
    iou = torch.rand(n, generator=g) * 0.6 + 0.4
    scores = torch.rand(n, k, generator=g)
    assert coco_ap(scores, labels, iou, group) == pytest.approx(_reference_ap(scores, labels, iou, group), abs=1e-5)


def test_coco_ap_rewards_ranking_the_best_localized_box_first() -> None:
    labels = torch.tensor([0, 0, 0, 0, 1])
    iou = torch.tensor([0.97, 0.6, 0.97, 0.55, 0.0])
    group = torch.tensor([0, 0, 1, 1, 2])
    best_first = torch.tensor([[0.9], [0.5], [0.8], [0.4], [0.1]])
    worst_first = torch.tensor([[0.5], [0.9], [0.4], [0.8], [0.1]])
    assert coco_ap(best_first, labels, iou, group) == pytest.approx(1.0)
    # NMS keeps the 0.6 / 0.55 boxes: true positives at 0.5 and 0.55 only, one of two objects at 0.6
    assert coco_ap(worst_first, labels, iou, group) == pytest.approx((1 + 1 + 51 / 101) / 10, abs=1e-6)
    # without NMS groups the duplicates are false positives
    assert coco_ap(best_first, labels, iou) < 1.0
    assert coco_ap(torch.zeros(0, 1), labels[:0], iou[:0]) == 0.0


def test_box_terms_and_regression_metric() -> None:
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]], requires_grad=True)
    target = torch.tensor([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    i, u, e = box_iou_terms(pred, target)
    assert i.tolist() == pytest.approx([50.0, 0.0])
    assert u.tolist() == pytest.approx([150.0, 200.0])
    assert e.tolist() == pytest.approx([150.0, 900.0])
    (1 - i / u + (e - u) / e).sum().backward()  # GIoU: gradient also for the disjoint pair
    assert pred.grad is not None and bool(pred.grad[1].abs().sum() > 0)
    assert mean_recall_over_thresholds(torch.tensor([1.0, 0.72, 0.0])) == pytest.approx((10 + 5) / 30)


# ---- the adapter --------------------------------------------------------------------------------------
def test_registered_for_every_space_and_describes_its_settings(adapters: dict[str, FitnessAdapter]) -> None:
    assert "toy" in ADAPTERS
    for sp, adapter in adapters.items():
        assert isinstance(adapter, ToyAdapter)
        info = adapter.describe()
        assert info["adapter"] == "toy" and info["space"] == sp
        assert {"train_size", "val_size", "steps", "lr", "verify_size", "verify_steps"} <= set(info)
        assert ("num_classes" in info) == (sp != "iou_reg")
        json.dumps(info)
    assert create_adapter("toy", "softmax_cls", steps=7, lr=1).describe()["steps"] == 7


@pytest.mark.parametrize(
    "options",
    [{"bogus": 1}, {"steps": 0}, {"lr": -1.0}, {"lr": "fast"}, {"momentum": 1.0}, {"train_size": 2.5}],
)
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ConfigError):
        create_adapter("toy", "softmax_cls", **options)


def test_refuses_options_and_losses_of_another_space(adapters: dict[str, FitnessAdapter]) -> None:
    with pytest.raises(ConfigError, match="iou_reg"):
        create_adapter("toy", "iou_reg", num_classes=4)
    with pytest.raises(ConfigError):
        adapters["iou_reg"].proxy(ga.known_loss("ce"), 0)


@pytest.mark.parametrize("space", SPACES)
def test_good_losses_beat_broken_ones(adapters: dict[str, FitnessAdapter], space: str) -> None:
    adapter = adapters[space]
    good = {name: adapter.proxy(ga.known_loss(name), 0) for name in GOOD[space]}
    broken = {text: adapter.proxy(ga.parse(text, space), 0) for text in BROKEN[space]}
    assert min(good.values()) > max(broken.values()) + 0.15, (good, broken)
    assert all(0.0 <= v <= 1.0 for v in [*good.values(), *broken.values()])
    # the D_verify simulation ranks them the same way
    good_v = [adapter.verify(ga.known_loss(name), 0) for name in GOOD[space]]
    broken_v = [adapter.verify(ga.parse(text, space), 0) for text in BROKEN[space]]
    assert min(good_v) > max(broken_v) + 0.15, (good_v, broken_v)


@pytest.mark.parametrize("space", SPACES)
def test_deterministic_under_seed(space: str) -> None:
    small = {"train_size": 4096, "val_size": 2048, "steps": 60}
    loss = ga.initial_loss(space)
    first, second = create_adapter("toy", space, **small), create_adapter("toy", space, **small)
    assert first.proxy(loss, 3) == second.proxy(loss, 3) == first.proxy(loss, 3)
    assert first.verify(loss, 3) == second.verify(loss, 3)
    assert first.proxy(loss, 3) != first.proxy(loss, 4)
    assert first.verify(loss, 3) != first.verify(loss, 4)


@pytest.mark.parametrize("space", SPACES)
def test_nan_loss_is_a_failed_candidate(adapters: dict[str, FitnessAdapter], space: str) -> None:
    loss = ga.parse(NAN_LOSS[space], space)
    with pytest.raises(CandidateFailed, match="nan"):
        adapters[space].verify(loss, 0)
    with pytest.raises(CandidateFailed, match="nan"):
        adapters[space].proxy(loss, 0)


class _RaisingLoss(ga.Loss):
    """A candidate whose compiled form raises when called (as a broken user primitive would)."""

    def to_torch(self):  # type: ignore[override]
        def fn(**inputs: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("primitive exploded")

        return fn


def test_raising_loss_is_a_failed_candidate(adapters: dict[str, FitnessAdapter]) -> None:
    ce = ga.known_loss("ce")
    with pytest.raises(CandidateFailed, match="RuntimeError: primitive exploded"):
        adapters["softmax_cls"].verify(_RaisingLoss(ce.tree, ce.space), 0)


def test_loss_that_ignores_predictions_scores_low_without_failing(adapters: dict[str, FitnessAdapter]) -> None:
    untrained = adapters["softmax_cls"].proxy(ga.parse("dot(y, y) + w", "softmax_cls"), 0)
    assert math.isfinite(untrained) and untrained < 0.1


def test_fast_and_leaves_torch_threads_alone(adapters: dict[str, FitnessAdapter]) -> None:
    threads = torch.get_num_threads()
    loss = ga.initial_loss("softmax_cls")
    adapter = adapters["softmax_cls"]
    adapter.verify(loss, 0)  # warm
    start = time.perf_counter()
    adapter.verify(loss, 0)
    verify_s = time.perf_counter() - start
    assert torch.get_num_threads() == threads
    assert verify_s < 0.5  # tens of ms when the machine is idle
