"""The ``seg_blobs`` fitness adapter: a tiny conv net trained with the candidate loss on synthetic blobs.

Images are ``size x size`` grey squares holding one to three disks (the foreground mask) on a smooth, noisy
background; every image is a function of ``(seed, split, index)`` only, so an evaluation is deterministic.
The model is three convolutions (``1 -> channels -> channels -> 1`` logit per pixel), trained with Adam on
the mean of the candidate's per-pixel loss; the metric is the foreground IoU of ``logit > 0`` over the
test images (higher is better). On one CPU thread, the default proxy takes about a second and D_verify a
tenth of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gp_autoloss.fitness import CandidateFailed, FitnessAdapter, register_adapter
from gp_autoloss.loss import Loss
from gp_autoloss.options import Options, option
from gpa_segmentation.space import SPACE

__all__ = ["SegBlobsAdapter", "SegOptions", "make_blobs", "mask_iou"]

_TRAIN, _VAL, _VERIFY = 0, 1, 2


@dataclass(frozen=True)
class SegOptions(Options):
    """Settings of ``seg_blobs`` (``--adapter-option NAME=VALUE``); recorded with the run. The core checks them
    (types, ranges, unknown names) and ``gp-autoloss search --adapter seg_blobs --help`` lists them."""

    size: int = option(16, "image side in pixels", ge=1)
    channels: int = option(8, "width of the conv net", ge=1)
    train_images: int = option(64, "proxy: images trained on", ge=1)
    val_images: int = option(32, "proxy: images the IoU is measured on", ge=1)
    steps: int = option(60, "proxy: full-batch Adam steps", ge=1)
    verify_images: int = option(4, "D_verify: images trained and tested on", ge=1)
    verify_steps: int = option(20, "D_verify: Adam steps", ge=1)
    lr: float = option(0.02, "Adam learning rate", ge=0)
    noise: float = option(0.5, "std of the pixel noise (the foreground is +1 brighter than the background)", ge=0)

    @classmethod
    def contract_case(cls, space: str, workdir: Path) -> dict[str, Any]:
        """Settings of gp-autoloss's adapter contract suite (``tests/test_contract_adapters.py``): options small
        enough for a test, and a formula whose training fails (NaN from the first step)."""
        return {"options": {"size": 12, "train_images": 8, "val_images": 4, "steps": 10, "verify_images": 2,
                            "verify_steps": 5},
                "failing": "log(x - x - 1)"}  # fmt: skip


def make_blobs(n: int, size: int, noise: float, seed: int, split: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(n, 1, size, size)`` and their binary masks, a function of ``(seed, split)`` only."""
    g = torch.Generator().manual_seed(1_000_003 * int(seed) + 7919 * split + 17)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    masks = torch.zeros(n, size, size)
    blobs = torch.randint(1, 4, (n,), generator=g)
    for k in range(n):
        for _ in range(int(blobs[k])):
            cy, cx = (torch.rand(2, generator=g) * size).tolist()
            r = float(torch.rand(1, generator=g)) * size / 5 + size / 10
            masks[k] = torch.maximum(masks[k], (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).float())
    tilt = torch.rand(n, 2, 1, 1, generator=g) - 0.5  # a smooth background gradient, different per image
    background = tilt[:, 0] * (yy / size - 0.5) + tilt[:, 1] * (xx / size - 0.5)
    images = masks + background + noise * torch.randn(n, size, size, generator=g)
    return images.unsqueeze(1), masks.unsqueeze(1)


def mask_iou(logits: torch.Tensor, masks: torch.Tensor) -> float:
    """Foreground IoU of the prediction ``logits > 0`` against ``masks`` over all pixels of all images."""
    pred = logits > 0
    truth = masks > 0.5
    union = (pred | truth).sum().item()
    return float((pred & truth).sum().item() / union) if union else 1.0


def _net(channels: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 1, 1),
        )  # fmt: skip


@contextmanager
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@register_adapter("seg_blobs")
class SegBlobsAdapter(FitnessAdapter):
    """Train a tiny conv net with the candidate on synthetic blobs; metric: validation IoU (see the module)."""

    spaces = (SPACE,)
    # its options, declared once; any other (a typo such as ``stepz``) is refused by the core, naming ``steps``
    options_class = SegOptions
    opts: SegOptions

    def _train_and_test(self, loss: Loss, seed: int, train: tuple[torch.Tensor, torch.Tensor],
                        test: tuple[torch.Tensor, torch.Tensor], steps: int) -> float:  # fmt: skip
        c = self.opts
        loss_fn = loss.to_torch()
        with _one_thread():
            model = _net(c.channels, seed)
            opt = torch.optim.Adam(model.parameters(), lr=c.lr)
            images, masks = train
            for step in range(steps):
                logits = model(images)
                value = loss_fn(x=logits.flatten(), g=masks.flatten()).mean()
                if not torch.isfinite(value):
                    raise CandidateFailed(f"non-finite loss at step {step}")
                opt.zero_grad()
                value.backward()
                opt.step()
            with torch.no_grad():
                return mask_iou(model(test[0]), test[1])

    def verify(self, loss: Loss, seed: int) -> float:
        """D_verify: a few images, trained and tested on."""
        c = self.opts
        data = make_blobs(c.verify_images, c.size, c.noise, seed, _VERIFY)
        return self._train_and_test(loss, seed, data, data, c.verify_steps)

    def proxy(self, loss: Loss, seed: int) -> float:
        """Proxy task: train on ``train_images``, IoU on ``val_images`` held out."""
        c = self.opts
        train = make_blobs(c.train_images, c.size, c.noise, seed, _TRAIN)
        val = make_blobs(c.val_images, c.size, c.noise, seed, _VAL)
        return self._train_and_test(loss, seed, train, val, c.steps)
