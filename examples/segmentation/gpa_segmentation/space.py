"""The ``square`` primitive, the ``bin_seg`` space and its initial loss ``bce_seg``."""

from __future__ import annotations

import torch

from gp_autoloss import register_known_loss
from primitives import UNARY, Binary, Input, Real, Scalar, SearchSpace, primitive, register_space

__all__ = ["INITIAL_LOSS", "LOGITS", "SPACE", "SEG_PRIMITIVES"]

SPACE = "bin_seg"
INITIAL_LOSS = "bce_seg"
#: per-pixel logits: signed, near 0 (an untrained head) to large magnitudes (a confident one), never exactly 0
LOGITS = Real(zero=0.0)


@primitive("square", UNARY, doc="a^2")
def square(a: torch.Tensor) -> torch.Tensor:
    """``a * a`` (a registered primitive: any space that lists ``"square"`` can use it)."""
    return a * a


#: the regression set of the paper plus ``square``; per-pixel losses need no ``softmax``/``dot``
SEG_PRIMITIVES: tuple[str, ...] = (
    "add", "sub", "mul", "div", "neg", "log", "exp", "abs", "sqrt", "softplus", "sigmoid", "tanh", "relu", "square",
)  # fmt: skip

register_space(SearchSpace(
    name=SPACE,
    inputs=(
        Input("x", Scalar, "logit of one pixel", domain=LOGITS, prediction=True),
        Input("g", Scalar, "ground-truth mask of that pixel (0 or 1)", domain=Binary(p=0.3)),
    ),
    output=Scalar,
    primitives=SEG_PRIMITIVES,
    reduction="none",
    initial_loss=INITIAL_LOSS,
    description="binary segmentation: loss per pixel from its logit x and mask g",
))  # fmt: skip

# BCE with logits, -(g log sigmoid(x) + (1 - g) log(1 - sigmoid(x))), in the stable form softplus(x) - g x
register_known_loss(INITIAL_LOSS, SPACE, "softplus(x) - g * x", doc="binary cross-entropy with logits")
