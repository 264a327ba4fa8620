"""The ``seg_blobs`` fitness adapter: a tiny conv net trained with the candidate loss on synthetic blobs.

Images are ``size x size`` grey squares holding one to three disks (the foreground mask) on a smooth, noisy
background; every image is a function of ``(seed, split, index)`` only, so an evaluation is deterministic.
The model is three convolutions (``1 -> channels -> channels -> 1`` logit per pixel), trained with Adam on
the mean of the candidate's per-pixel loss; the metric is the foreground IoU of ``logit > 0`` over the
test images (higher is better). On one CPU thread, the default proxy takes about a second and D_verify a
tenth of that.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from gp_autoloss.errors import ConfigError
from gp_autoloss.fitness import CandidateFailed, FitnessAdapter, register_adapter
from gp_autoloss.loss import Loss
from gpa_segmentation.space import SPACE

__all__ = ["SegBlobsAdapter", "SegOptions", "make_blobs", "mask_iou"]

_TRAIN, _VAL, _VERIFY = 0, 1, 2


@dataclass(frozen=True)
class SegOptions:
    """Settings of ``seg_blobs`` (``--adapter-option NAME=VALUE``); recorded with the run."""

    size: int = 16  # image side in pixels
    channels: int = 8  # width of the conv net
    train_images: int = 64  # proxy: trained on
    val_images: int = 32  # proxy: IoU measured on
    steps: int = 60  # proxy: full-batch Adam steps
    verify_images: int = 4  # D_verify: trained and tested on
    verify_steps: int = 20
    lr: float = 0.02
    noise: float = 0.5  # std of the pixel noise (the foreground is +1 brighter than the background)


_INTS = ("size", "channels", "train_images", "val_images", "steps", "verify_images", "verify_steps")


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
    # the options it takes; any other (a typo such as ``stepz``) is refused by the core, naming ``steps``
    accepted_options = tuple(f.name for f in fields(SegOptions))

    def __init__(self, space: str, **options: Any) -> None:
        super().__init__(space, **options)
        self.config = replace(SegOptions(), **options)
        for name in _INTS:
            value = getattr(self.config, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"adapter 'seg_blobs': option {name} must be an integer >= 1, got {value!r}")
        for name in ("lr", "noise"):
            value = getattr(self.config, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"adapter 'seg_blobs': option {name} must be a finite number >= 0, got {value!r}")

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "space": self.space.name, **asdict(self.config)}

    def _train_and_test(self, loss: Loss, seed: int, train: tuple[torch.Tensor, torch.Tensor],
                        test: tuple[torch.Tensor, torch.Tensor], steps: int) -> float:  # fmt: skip
        c = self.config
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
        c = self.config
        data = make_blobs(c.verify_images, c.size, c.noise, seed, _VERIFY)
        return self._train_and_test(loss, seed, data, data, c.verify_steps)

    def proxy(self, loss: Loss, seed: int) -> float:
        """Proxy task: train on ``train_images``, IoU on ``val_images`` held out."""
        c = self.config
        train = make_blobs(c.train_images, c.size, c.noise, seed, _TRAIN)
        val = make_blobs(c.val_images, c.size, c.noise, seed, _VAL)
        return self._train_and_test(loss, seed, train, val, c.steps)
