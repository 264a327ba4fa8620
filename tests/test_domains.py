"""Input domains (primitives.domains): what each built-in space declares, and how a user's space declares its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from primitives import (
    DOMAINS,
    SPACES,
    Binary,
    BoxArea,
    Domain,
    Input,
    IoU,
    IoUWeight,
    OneHot,
    Real,
    Scalar,
    SearchSpace,
    Vector,
)

N = 4000


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_builtin_spaces_declare_the_domains_their_heads_feed():
    soft = SPACES["softmax_cls"].sample_inputs(N, _gen(), classes=6)
    x, y, w = soft["x"], soft["y"], soft["w"]
    assert x.shape == y.shape == (N, 6) and w.shape == (N,)
    assert (x < -30).any() and (x > 30).any() and (x.abs() < 0.05).any()  # signed, near 0 to large
    assert ((y == 0) | (y == 1)).all() and (y.sum(dim=1) == 1).all()  # one-hot
    background = y[:, -1] == 1
    assert (w[background] == 1).all() and (w[~background] < 1).any()  # w = 1 for negatives (authors' README)
    assert (w > 0).all() and (w <= 1).all() and (w == 1e-7).any()  # IoU clamped at 1e-7

    sig = SPACES["sigmoid_cls"].sample_inputs(N, _gen(), classes=6)
    assert sig["x"].shape == (N,) and set(sig["y"].unique().tolist()) == {0.0, 1.0}
    assert (sig["w"] > 0).all() and (sig["w"] <= 1).all() and (sig["w"] == 1).any() and (sig["w"] < 1).any()

    reg = SPACES["iou_reg"].sample_inputs(N, _gen())
    i, u, e = reg["i"], reg["u"], reg["e"]
    assert (i >= 0).all() and (i <= u).all() and (u <= e * (1 + 1e-6)).all()
    assert (i == 0).any() and (i == u).any() and (u == e).any() and (e > u).any()  # disjoint, identical, nested
    assert u.min() < 1 < 1e5 < u.max()  # tiny to large boxes, in pixels


def test_draws_are_reproducible_and_float64():
    for space in SPACES.names():
        a = SPACES[space].sample_inputs(50, _gen(7))
        b = SPACES[space].sample_inputs(50, _gen(7))
        assert all(torch.equal(a[k], b[k]) and a[k].dtype == torch.float64 for k in a)


def test_domains_are_registered_by_name():
    assert isinstance(DOMAINS["logits"], Real) and DOMAINS["logits"].zero == 0.0
    assert {"real", "binary", "one_hot", "iou", "iou_weight", "box_intersection"} <= set(DOMAINS.names())
    assert all(isinstance(d, Domain) and d.description for _, d in DOMAINS.items())


@dataclass(frozen=True)
class Counts(Domain):
    """A plugin's domain: non-negative integer counts."""

    high: int = 5
    description: ClassVar[str] = "counts 0..high"

    def sample(self, shape, generator):
        return torch.randint(0, self.high + 1, shape, generator=generator).to(torch.float64)


def test_a_user_space_declares_its_own_domains():
    space = SearchSpace(name="domains_user_t", output=Scalar, primitives=("add", "mul", "dot"),
                        inputs=(Input("p", Vector, "scores", prediction=True), Input("n", Scalar, "count",
                                domain=Counts()), Input("m", Vector, "mask", domain=OneHot())))  # fmt: skip
    draw = space.sample_inputs(300, _gen(), classes=4)
    assert draw["p"].shape == (300, 4) and draw["n"].shape == (300,) and draw["m"].shape == (300, 4)
    assert set(draw["n"].unique().tolist()) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert (draw["p"] < 0).any()  # the default domain: signed reals
    assert space.input_map["p"].domain == Real()


def test_a_dependent_domain_needs_its_input_first():
    with pytest.raises(ValueError, match="depends on \\['y'\\]"):
        SearchSpace(name="domains_order_t", output=Scalar, primitives=("add",),
                    inputs=(Input("w", Scalar, domain=IoUWeight(target="y")), Input("y", Vector, domain=OneHot())))  # fmt: skip


def test_bad_domain_declarations_are_refused():
    with pytest.raises(TypeError, match="domain must be a primitives.Domain"):
        Input("x", Scalar, domain="logits")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="part must be one of"):
        BoxArea("area")
    with pytest.raises(NotImplementedError):
        Domain().sample((3,), _gen())


@pytest.mark.parametrize("domain, low, high", [(Binary(0.5), 0.0, 1.0), (IoU(), 1e-7, 1.0), (Real(bound=10.0), -10.0, 10.0)])
def test_scalar_domains_stay_in_their_sets(domain, low, high):
    v = domain.sample((N,), _gen(3))
    assert v.min() >= low and v.max() <= high and v.dtype == torch.float64
