"""Known losses against independent torch code, and the authors' DEAP strings against our formulas."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from gp_autoloss import KNOWN_LOSSES, initial_loss, known_loss, known_losses, parse, register_known_loss
from tests.conftest import boxes_to_iue, random_boxes, realistic_inputs

B, C = 32, 7
F64 = torch.float64


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def test_registry_of_known_losses():
    losses = known_losses()
    assert {"ce", "cei", "fli", "iou", "giou", "cse_a_cls", "cse_a_reg", "cse_b_cls", "cse_b_reg"} <= set(losses)
    spaces = {name: loss.space.name for name, loss in losses.items()}
    assert {spaces[n] for n in ("ce", "cei", "cse_a_cls")} == {"softmax_cls"}
    assert {spaces[n] for n in ("bce", "fl", "fli", "cse_b_cls")} == {"sigmoid_cls"}
    assert {spaces[n] for n in ("iou", "giou", "cse_a_reg", "cse_b_reg")} == {"iou_reg"}
    assert [str(initial_loss(s)) for s in ("softmax_cls", "sigmoid_cls", "iou_reg")] == [
        str(losses["cei"]), str(losses["fli"]), str(losses["giou"])]
    with pytest.raises(KeyError, match="already registered"):
        register_known_loss("ce", "softmax_cls", "-dot(y, log(softmax(x)))")
    with pytest.raises(KeyError, match="unknown known loss 'nope'"):
        known_loss("nope")
    assert set(KNOWN_LOSSES) == set(losses)


# ---- classification, two-stage (softmax over C classes incl. background) --------------------------------------


@pytest.fixture
def softmax_batch(gen):
    x = torch.randn(B, C, generator=gen, dtype=F64) * 3.0
    label = torch.randint(0, C, (B,), generator=gen)
    y = F.one_hot(label, C).to(F64)
    w = torch.where(label != C - 1, torch.rand(B, generator=gen, dtype=F64), torch.ones(B, dtype=F64))
    return x, y, w, label


def test_ce_is_cross_entropy(softmax_batch):
    x, y, w, label = softmax_batch
    _close(known_loss("ce")(x=x, y=y, w=w), F.cross_entropy(x, label, reduction="none"))


def test_ce_with_soft_targets(softmax_batch, gen):
    x, _, w, _ = softmax_batch
    soft = torch.softmax(torch.randn(B, C, generator=gen, dtype=F64), dim=1)
    _close(known_loss("ce")(x=x, y=soft, w=w), F.cross_entropy(x, soft, reduction="none"))


def test_cei_is_iou_weighted_cross_entropy(softmax_batch):
    x, y, w, label = softmax_batch
    _close(known_loss("cei")(x=x, y=y, w=w), w * F.cross_entropy(x, label, reduction="none"))


def test_cse_a_cls(softmax_batch):
    x, y, w, label = softmax_batch
    _close(known_loss("cse_a_cls")(x=x, y=y, w=w), (1.0 + torch.sin(w)) * F.cross_entropy(x, label, reduction="none"))


# ---- classification, one-stage (sigmoid, per element) ---------------------------------------------------------


@pytest.fixture
def sigmoid_batch(gen):
    x = torch.randn(B, C, generator=gen, dtype=F64) * 3.0
    y = (torch.rand(B, C, generator=gen, dtype=F64) < 0.3).to(F64)
    iou = torch.rand(B, 1, generator=gen, dtype=F64)
    w = torch.where(y > 0, iou.expand(B, C), torch.ones(B, C, dtype=F64))
    return x, y, w


def test_bce_is_binary_cross_entropy_with_logits(sigmoid_batch, gen):
    x, y, w = sigmoid_batch
    _close(known_loss("bce")(x=x, y=y, w=w), F.binary_cross_entropy_with_logits(x, y, reduction="none"))
    soft = torch.rand(B, C, generator=gen, dtype=F64)
    _close(known_loss("bce")(x=x, y=soft, w=w), F.binary_cross_entropy_with_logits(x, soft, reduction="none"))


def test_fl_is_focal_loss_gamma_2(sigmoid_batch):
    x, y, w = sigmoid_batch
    log_p, log_q = F.logsigmoid(x), F.logsigmoid(-x)
    p = log_p.exp()
    want = -(y * (1 - p) ** 2 * log_p + (1 - y) * p**2 * log_q)
    _close(known_loss("fl")(x=x, y=y, w=w), want)
    # Binary targets: FL = (1 - p_t)^2 * BCE
    p_t = torch.where(y > 0, p, 1 - p)
    _close(known_loss("fl")(x=x, y=y, w=w), (1 - p_t) ** 2 * F.binary_cross_entropy_with_logits(x, y, reduction="none"))


def test_fli(sigmoid_batch):
    x, y, w = sigmoid_batch
    log_p, log_q = F.logsigmoid(x), F.logsigmoid(-x)
    p = log_p.exp()
    want = -w * (y * (1 - p) * log_p + (1 - y) * p * log_q)
    _close(known_loss("fli")(x=x, y=y, w=w), want)


def _erf01(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.special.erf(math.sqrt(math.pi) / 4.0 * z))


def _gd01(z: torch.Tensor) -> torch.Tensor:
    return 0.5 + torch.atan(torch.sinh(math.pi / 4.0 * z)) / math.pi  # gd(t) = atan(sinh t)


def test_cse_b_cls_is_the_papers_formula(sigmoid_batch):
    x, y, w = sigmoid_batch
    p = torch.sigmoid(x)
    wy = w * y
    want = -(wy * (1 + _erf01(torch.sigmoid(1 - y))) * F.logsigmoid(x) + (_gd01(x) - wy) * (p - wy) * F.logsigmoid(-x))
    _close(known_loss("cse_b_cls")(x=x, y=y, w=w), want)


# ---- regression from boxes ------------------------------------------------------------------------------------


def _giou_from_boxes(pred: list[float], target: list[float]) -> tuple[float, float]:
    """IoU and GIoU of two (x1, y1, x2, y2) boxes, in plain Python."""
    px1, py1, px2, py2 = pred
    tx1, ty1, tx2, ty2 = target
    iw = max(0.0, min(px2, tx2) - max(px1, tx1))
    ih = max(0.0, min(py2, ty2) - max(py1, ty1))
    inter = iw * ih
    union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter
    hull = (max(px2, tx2) - min(px1, tx1)) * (max(py2, ty2) - min(py1, ty1))
    iou = inter / union
    return iou, iou - (hull - union) / hull


@pytest.fixture
def box_pairs(gen):
    pred, target = random_boxes(200, gen), random_boxes(200, gen)
    pred[0] = target[0]  # identical boxes
    pred[1] = torch.tensor([0.0, 0.0, 10.0, 10.0], dtype=F64)  # far apart
    target[1] = torch.tensor([200.0, 200.0, 210.0, 210.0], dtype=F64)
    pred[2] = torch.tensor([0.0, 0.0, 10.0, 10.0], dtype=F64)  # nested
    target[2] = torch.tensor([2.0, 2.0, 6.0, 6.0], dtype=F64)
    i, u, e = boxes_to_iue(pred, target)
    reference = [_giou_from_boxes(p.tolist(), t.tolist()) for p, t in zip(pred, target)]
    iou = torch.tensor([r[0] for r in reference], dtype=F64)
    giou = torch.tensor([r[1] for r in reference], dtype=F64)
    return {"i": i, "u": u, "e": e}, iou, giou


def test_iou_and_giou_losses_from_boxes(box_pairs):
    iue, iou, giou = box_pairs
    assert (iou > 0).sum() > 20 and (iou == 0).sum() > 20  # overlapping and disjoint pairs both present
    _close(known_loss("iou")(**iue), 1.0 - iou)
    _close(known_loss("giou")(**iue), 1.0 - giou)
    g = known_loss("giou")(**iue)
    assert g[0].item() == pytest.approx(0.0, abs=1e-12)
    assert 1.9 < g[1].item() < 2.0  # far-apart boxes: GIoU loss approaches 2
    assert g[2].item() == pytest.approx(1.0 - 16.0 / 100.0, abs=1e-12)


def test_cse_a_reg_is_the_papers_formula(box_pairs):
    iue, _, _ = box_pairs
    i, u, e = iue["i"], iue["u"], iue["e"]
    _close(known_loss("cse_a_reg")(**iue), (1 - i / u) + (1 - (i + 2) / e))


def test_cse_b_reg_simplifies_to_the_papers_formula(box_pairs):
    iue, _, _ = box_pairs
    i, u, e = iue["i"], iue["u"], iue["e"]
    paper = (3 * e * u + 12 * e + 3 * i + 3 * u + 18) / (-3 * e * u + i * u + u**2 - 15 * e + 5 * i + 5 * u)
    _close(known_loss("cse_b_reg")(**iue), paper, rtol=1e-9)


# ---- the authors' DEAP strings -------------------------------------------------------------------------------

#: authors-code.md, "The searched losses as they wrote them"
AUTHORS = {
    "cse_a_cls": "Neg(Dot(Mul(Y,Add(1,Sin(Z))),Log(Softmax(X))))",
    "cse_a_reg": "Add(1,Neg(Add(Div(I,U),Neg(Div(Add(E,Neg(Add(I,2))),E)))))",
    "cse_b_cls": "Neg(Add(Mul(Q,Mul(Add(1,Serf(Sig(NY))),Log(Sig(X)))),Mul(Add(Sgdf(X),Neg(Q)),Mul(Add(Add(1,Neg(Q)),"
                 "Neg(Add(1,Neg(Sig(X))))),Log(Add(1,Neg(Sig(X))))))))",
    "cse_b_reg": "Neg(Div(Add(Div(Neg(Add(Neg(E),Add(1,I))),Neg(Add(3,Add(2,U)))),Add(Div(E,E),Div(Neg(E),Neg(1)))),"
                 "Neg(Add(Div(Neg(Add(U,Div(I,1))),Neg(3)),Neg(E)))))",
}

RENAME = {"Neg": "neg", "Add": "add", "Mul": "mul", "Div": "div", "Log": "log", "Sig": "sigmoid", "Serf": "erf",
          "Sgdf": "gd", "Sin": "sin", "Dot": "dot", "Softmax": "softmax", "X": "x", "Y": "y", "Z": "w", "I": "i",
          "U": "u", "E": "e", "Q": "mul(w, y)", "NY": "sub(1, y)"}


def from_authors(text: str) -> str:
    """The authors' prefix text in our names (word by word, so ``NY`` is not read as ``N`` and ``Y``)."""
    return re.sub(r"[A-Za-z]+", lambda m: RENAME[m.group()], text)


def test_conversion_is_word_by_word():
    assert from_authors("Add(NY,Q)") == "add(sub(1, y),mul(w, y))"
    with pytest.raises(KeyError):
        from_authors("Pow(X,2)")


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_authors_strings_are_our_known_losses(name, gen):
    ours = known_loss(name)
    theirs = parse(from_authors(AUTHORS[name]), ours.space)
    assert theirs.output_type is ours.output_type
    for _ in range(3):
        inputs = realistic_inputs(ours.space, gen, batch=64, classes=C)
        _close(theirs(**inputs), ours(**inputs))


def test_our_cse_b_reg_is_the_authors_tree():
    assert parse(from_authors(AUTHORS["cse_b_reg"]), "iou_reg") == known_loss("cse_b_reg")


@pytest.mark.parametrize("name", sorted(known_losses()))
def test_known_losses_are_finite_on_realistic_inputs(name, gen):
    loss = known_loss(name)
    for dtype in (torch.float32, torch.float64):
        out = loss(**realistic_inputs(loss.space, gen, batch=64, classes=C, dtype=dtype))
        assert torch.isfinite(out).all()
