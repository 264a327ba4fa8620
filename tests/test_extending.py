"""The README's 'new task in a few lines' example works as written: registries are the extension points."""

from __future__ import annotations

import random

import pytest
import torch

from gp_autoloss import KNOWN_LOSSES, initial_loss, parse, random_loss, register_known_loss
from gp_autoloss.errors import UnknownNameError
from primitives import PRIMITIVES, SPACES, UNARY, Input, Real, Scalar, SearchSpace, register_primitive, register_space


@pytest.fixture
def l_reg_task():
    register_primitive("square_t", lambda a: a * a, UNARY, doc="a^2")
    space = register_space(SearchSpace(
        name="l_reg_t", inputs=(Input("p", Scalar, "prediction", prediction=True),
                                Input("t", Scalar, "target", domain=Real(bound=10.0))), output=Scalar,
        primitives=("add", "sub", "mul", "abs", "square_t", "log"), initial_loss="l2_t",
    ))  # fmt: skip
    register_known_loss("l2_t", "l_reg_t", "square_t(p - t)")
    yield space
    KNOWN_LOSSES.remove("l2_t")
    SPACES.remove("l_reg_t")
    PRIMITIVES.remove("square_t")


def test_new_primitive_space_and_known_loss(l_reg_task):
    p, t = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    loss = parse("abs(p - t) + square_t(p - t)", "l_reg_t")
    assert torch.allclose(loss.to_torch()(p=p, t=t), (p - t).abs() + (p - t) ** 2)
    assert str(initial_loss("l_reg_t")) == "square_t(p - t)"
    rng = random.Random(0)
    for _ in range(200):
        tree = random_loss("l_reg_t", rng)
        assert parse(str(tree), "l_reg_t") == tree
    with pytest.raises(UnknownNameError, match="not in space"):
        parse("softplus(p)", "l_reg_t")
