"""Equivalence of candidates on each input's real domain (issue 13, item 1): real DEAP trees, real torch."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import torch

from gp_autoloss import parse
from gp_autoloss.known import known_loss
from gp_autoloss.search.dedup import (
    ATOL,
    RTOL,
    domain_sample,
    fingerprint,
    fingerprint_values,
    probe_inputs,
    same_values,
    values_on,
)
from primitives import SPACES, Binary, Input, Real, Scalar, SearchSpace, register_space

SPACE_NAMES = ["softmax_cls", "sigmoid_cls", "iou_reg"]
FRESH_SEED = 4242  # an independent sample of the same domains


def _fp(formula: str, space: str) -> str:
    return fingerprint(parse(formula, space))


# ---- known pairs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("space, a, b", [
    ("softmax_cls", "-dot(w * y, log(softmax(x)))", "-dot(w * y, log(softmax(sqrt(x * x))))"),
    *[("softmax_cls", "-dot(y, log(softmax(x)))", f"-dot(y, log(softmax({v})))") for v in ("abs(x)", "relu(x)")],
    *[("sigmoid_cls", "-log(sigmoid(x))", f"-log(sigmoid({v}))") for v in ("abs(x)", "relu(x)", "sqrt(x * x)")],
    ("sigmoid_cls", "w * y * x", "relu(w * y * x)"),
    ("sigmoid_cls", "-(y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x)))",
     "-(y * log(sigmoid(abs(x))) + (1 - y) * log(1 - sigmoid(abs(x))))"),
    ("iou_reg", "1 - i / u", "1 - i / u + (e - u)"),  # e > u: the boxes do not nest
    ("iou_reg", "1 - i / u", "1 - i / u + i / i - 1"),  # i / i is 0 at i = 0: disjoint boxes
])  # fmt: skip
def test_losses_that_differ_on_the_domain_get_different_fingerprints(space, a, b):
    assert _fp(a, space) != _fp(b, space)


def _fli_variants() -> list[str]:
    fli = str(known_loss("fli"))
    assert "y * (1 - sigmoid(x))" in fli and "(1 - y) * sigmoid(x)" in fli
    return [
        fli.replace("y * (1 - sigmoid(x))", "y / y * (1 - sigmoid(x))"),  # y / y = y for y in {0, 1}
        fli.replace("y * (1 - sigmoid(x))", "y * (y / y) * (1 - sigmoid(x))"),
        fli.replace("(1 - y) * sigmoid(x)", "(1 - y) * (y + sigmoid(x))"),  # y (1 - y) = 0
        fli.replace("(1 - y) * sigmoid(x)", "(1 - y) * (1 - y) * sigmoid(x)"),
    ]


@pytest.mark.parametrize("variant", _fli_variants())
def test_variants_of_fli_on_binary_targets_share_its_fingerprint(variant):
    fli = known_loss("fli")
    assert parse(variant, "sigmoid_cls") != fli  # another tree...
    assert fingerprint(parse(variant, "sigmoid_cls")) == fingerprint(fli)  # ...the same loss for y in {0, 1}


@pytest.mark.parametrize("space, a, b", [
    ("sigmoid_cls", "x * 1", "x"),
    ("sigmoid_cls", "y * y * x", "y * x"),
    ("softmax_cls", "-dot(y, log(softmax(x)))", "-dot(y * y, log(softmax(x)))"),
    ("softmax_cls", "dot(y, y)", "1"),  # one-hot rows
    ("softmax_cls", "w * dot(y, x)", "dot(w * y, x)"),
    ("iou_reg", "i / u + e", "e + i / u"),
    ("iou_reg", "1 - i / u + (e - u) / e", "2 - i / u - u / e"),
])  # fmt: skip
def test_equivalent_formulas_share_a_fingerprint(space, a, b):
    assert _fp(a, space) == _fp(b, space)


def test_softmax_weights_are_fed_as_the_heads_feed_them():
    """w is the IoU for positives and 1 for negatives (background, the last class), as in the authors' heads."""
    (batch, *_) = probe_inputs(SPACES["softmax_cls"])
    background = batch["y"][:, -1] > 0
    assert background.any() and (batch["w"][background] == 1).all() and (batch["w"][~background] < 1).any()


def test_class_count_is_not_folded_into_a_constant():
    """dot(x / x, x / x) counts the classes: 5 - 5 is 0 with five classes, not with eight."""
    assert _fp("dot(x / x, x / x) - 5", "softmax_cls") != _fp("1 - 1", "softmax_cls")


# ---- tolerance and non-finite values ----------------------------------------------------------------------
def test_same_values_reads_nan_and_inf_as_values():
    inf, nan = float("inf"), float("nan")
    a = np.array([nan, inf, -inf, 1.0, 0.0, 1e39, 1.0, 1.0])
    b = np.array([nan, inf, -inf, 1.0 + RTOL / 10, ATOL / 2, inf, nan, 1.0 + 10 * RTOL])
    assert same_values(a, b).tolist() == [True] * 6 + [False, False]
    assert not same_values(np.array([inf]), np.array([-inf])).any()
    assert not same_values(np.array([nan]), np.array([inf])).any()


def test_fingerprint_values_tolerates_rounding_and_separates_real_differences():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 10, 500) * 10.0 ** rng.integers(-6, 6, 500)
    assert fingerprint_values(v) == fingerprint_values(v * (1 + 1e-14))  # float64 rounding of a rewriting
    assert fingerprint_values(v) != fingerprint_values(v * (1 + 1e-4))
    with_nan = v.copy()
    with_nan[3] = np.nan
    assert fingerprint_values(with_nan) == fingerprint_values(with_nan.copy())
    assert fingerprint_values(with_nan) != fingerprint_values(np.where(np.isnan(with_nan), np.inf, with_nan))
    assert fingerprint_values(np.array([1e-12, -3e-11])) == fingerprint_values(np.array([0.0, 0.0]))


def test_a_loss_finite_almost_nowhere_is_merged_with_nothing():
    """NaN nearly everywhere (sqrt of a negative constant, log of a mostly negative value): too little evidence."""
    assert _fp("sqrt(0 - 1)", "sigmoid_cls") != _fp("sqrt(0 - 2)", "sigmoid_cls")
    assert _fp("sqrt(0 - 1)", "sigmoid_cls") == _fp("sqrt(0 - 1)", "sigmoid_cls")


def test_fingerprint_uses_the_compiled_loss_with_its_eps():
    """div adds 1e-20: y / y is 0 at y = 0, so it is the loss y on binary targets, not the loss 1."""
    assert _fp("y / y", "sigmoid_cls") == _fp("y", "sigmoid_cls")
    assert _fp("y / y", "sigmoid_cls") != _fp("1", "sigmoid_cls")
    loss = parse("-log(sigmoid(x)) * y / y", "sigmoid_cls")
    (batch,) = probe_inputs(loss.space)
    want = loss.to_torch()(**batch).numpy()
    assert np.array_equal(values_on(loss, [batch]), want, equal_nan=True)


# ---- a user's space declares its own domains --------------------------------------------------------------
@pytest.fixture
def user_space():
    space = register_space(SearchSpace(
        name="dedup_user_t", output=Scalar, primitives=("add", "sub", "mul", "div", "abs", "log"),
        inputs=(Input("p", Scalar, "prediction", domain=Real(), prediction=True),
                Input("g", Scalar, "binary mask", domain=Binary(0.5))),
    ))  # fmt: skip
    yield space
    SPACES.remove("dedup_user_t")


def test_a_user_space_is_fingerprinted_on_its_own_domains(user_space):
    assert _fp("g / g * p", user_space) == _fp("g * p", user_space)  # binary g
    assert _fp("abs(p) * g", user_space) != _fp("p * g", user_space)  # signed p
    batches = probe_inputs(user_space)
    assert set(np.unique(batches[0]["g"].numpy())) == {0.0, 1.0}
    assert (batches[0]["p"] < 0).any()


def test_a_space_without_declared_domains_samples_signed_reals():
    space = SearchSpace(name="dedup_plain_t", output=Scalar, primitives=("add", "abs"),
                        inputs=(Input("a", Scalar), Input("b", Scalar)))  # fmt: skip
    (batch,) = domain_sample(space, 0)
    for t in batch.values():
        assert (t < 0).any() and (t > 0).any() and (t.abs() > 30).any() and (t.abs() < 0.1).any()


# ---- the property: equal fingerprints mean equal losses ---------------------------------------------------
@pytest.mark.parametrize("space", SPACE_NAMES)
def test_shared_fingerprints_agree_on_a_fresh_sample(space, random_losses):
    """Over 10,000 random trees: any two with one fingerprint agree on an independent sample of the domain."""
    torch.set_num_threads(1)
    by_fp: dict[str, list] = defaultdict(list)
    for loss in {loss.key: loss for loss in random_losses(space)}.values():
        by_fp[fingerprint(loss)].append(loss)
    fresh = domain_sample(SPACES[space], FRESH_SEED)
    merged = wrong = 0
    for fp, group in by_fp.items():
        if len(group) < 2 or fp.startswith("key:"):
            continue
        ref = values_on(group[0], fresh)
        for other in group[1:]:
            merged += 1
            agree = same_values(ref, values_on(other, fresh))
            wrong += not agree.all()
            assert agree.all(), f"{group[0]} and {other} share a fingerprint but differ on a fresh sample"
    assert merged > 100  # the property is not vacuous: rewritings of one loss do get merged
