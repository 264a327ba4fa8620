"""A user's own segmentation plugin, written from ``docs/extending.md`` as a plugin author would: it takes the
most natural names, which the project's example plugin (``examples/segmentation``) takes too -- the primitive
``square``, the space ``bin_seg`` and the adapter ``seg_blobs`` -- plus a known loss ``bce_pixels``.

Its adapter is tiny on purpose: a per-pixel logistic model ``logit = a * pixel + b`` trained with the candidate
loss on noisy masks, scored by the foreground IoU of ``logit > 0`` on held-out pixels (milliseconds).
``tests/test_plugins_coexist.py`` puts this folder's parent on ``PYTHONPATH`` and names it with ``--plugin``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gp_autoloss import register_known_loss
from gp_autoloss.fitness import CandidateFailed, FitnessAdapter, register_adapter
from gp_autoloss.loss import Loss
from gp_autoloss.options import Options, option
from primitives import UNARY, Binary, Input, Real, Scalar, SearchSpace, primitive, register_space


@primitive("square", UNARY, doc="a * a")
def square(a: torch.Tensor) -> torch.Tensor:
    """``a`` squared."""
    return a * a


register_space(SearchSpace(
    name="bin_seg",
    inputs=(
        Input("x", Scalar, "logit of a pixel", domain=Real(zero=0.0), prediction=True),
        Input("g", Scalar, "its mask, 0 or 1", domain=Binary(p=0.4)),
    ),
    output=Scalar,
    primitives=("add", "sub", "mul", "div", "neg", "log", "exp", "softplus", "sigmoid", "tanh", "square"),
    reduction="none",
    initial_loss="bce_pixels",
    description="pixel-wise binary segmentation (a user's plugin)",
))  # fmt: skip

register_known_loss("bce_pixels", "bin_seg", "softplus(x) - g * x", doc="binary cross-entropy with logits")


@dataclass(frozen=True)
class PixelOptions(Options):
    """Settings of this ``seg_blobs``."""

    pixels: int = option(512, "training pixels (as many held out)", ge=8)
    steps: int = option(30, "Adam steps of the proxy", ge=1)
    verify_steps: int = option(10, "Adam steps of D_verify", ge=1)
    noise: float = option(0.8, "std of the pixel noise", ge=0)


def _pixels(n: int, noise: float, seed: int, split: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7919 * seed + split)
    mask = (torch.rand(n, generator=g) < 0.4).double()
    return mask + noise * torch.randn(n, generator=g, dtype=torch.float64), mask


@register_adapter("seg_blobs")
class PixelAdapter(FitnessAdapter):
    """A per-pixel logistic model trained with the candidate; metric: held-out foreground IoU."""

    spaces = ("bin_seg",)
    options_class = PixelOptions
    opts: PixelOptions

    def _score(self, loss: Loss, seed: int, steps: int, held_out: bool) -> float:
        fn = loss.to_torch()
        pixels, mask = _pixels(self.opts.pixels, self.opts.noise, seed, 0)
        test = _pixels(self.opts.pixels, self.opts.noise, seed, 1) if held_out else (pixels, mask)
        params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([params], lr=0.1)
        for step in range(steps):
            value = fn(x=params[0] * pixels + params[1], g=mask).mean()
            if not torch.isfinite(value):
                raise CandidateFailed(f"non-finite loss at step {step}")
            opt.zero_grad()
            value.backward()
            opt.step()
        with torch.no_grad():
            pred, truth = (params[0] * test[0] + params[1]) > 0, test[1] > 0.5
            union = int((pred | truth).sum())
            return float(int((pred & truth).sum()) / union) if union else 1.0

    def verify(self, loss: Loss, seed: int) -> float:
        """Trained and tested on the same pixels, few steps."""
        return self._score(loss, seed, self.opts.verify_steps, held_out=False)

    def proxy(self, loss: Loss, seed: int) -> float:
        """Trained on some pixels, tested on others."""
        return self._score(loss, seed, self.opts.steps, held_out=True)
