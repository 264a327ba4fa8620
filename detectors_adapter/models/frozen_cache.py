"""A ResNet whose frozen stem and stages are computed once per image and then read from a cache.

With a pretrained backbone the stem and the first ``frozen_stages`` stages never change during a proxy
training (no gradients, batch norm in eval mode), and every candidate of a search sees the same images: the
frozen part's outputs are the same for all of them. :class:`FrozenCacheResNet` computes them **one image at a
time** (so a value never depends on which other images share its batch) and keeps them, keyed by a SHA-256
digest of the image tensor the backbone receives and of the frozen weights, in memory and in ``cache_dir``
(shared by the trainings of one adapter; files written atomically). Whatever the cache holds, an image's
frozen output is the same function of the image, so a training gives the same result with a cold or a warm
cache; the key is the image's content, so any pipeline (flips, crops, colour jitter) stays correct, it only
misses more.

Use in a config: ``backbone=dict(type='FrozenCacheResNet', cache_dir='/tmp/frozen', frozen_stages=2, ...)``
(the other keys are :class:`mmdet.models.backbones.ResNet`'s). ``frozen_stages < 0`` or no ``cache_dir``
leaves it a plain ResNet.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from torch import Tensor

__all__ = ["FrozenCacheResNet"]

#: entries kept in memory per process (an entry of fcos_tiny: 96 KiB; 4096 entries: 384 MiB)
MEMORY_ENTRIES = 4096


@MODELS.register_module()
class FrozenCacheResNet(ResNet):
    """:class:`~mmdet.models.backbones.ResNet` with its frozen part's outputs cached per image (module doc).

    Attributes:
        cache_dir: the shared folder of cached outputs (``None``: memory only within this process).
        hits, misses: images read from the cache and images computed, since construction.
    """

    def __init__(self, *args: Any, cache_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, tuple[Tensor, ...]] = {}
        self._weights_digest: str | None = None

    # ---- the frozen part -----------------------------------------------------------------------------------
    def _frozen(self, x: Tensor) -> tuple[Tensor, ...]:
        """The stem and the frozen stages on ``x``: their outputs in ``out_indices``, then the last one."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i in range(self.frozen_stages):
            x = getattr(self, self.res_layers[i])(x)
            if i in self.out_indices:
                outs.append(x)
        return (*outs, x)

    def _digest_weights(self) -> str:
        digest = hashlib.sha256()
        modules = [self.stem if self.deep_stem else self.conv1, *([] if self.deep_stem else [self.norm1])]
        modules += [getattr(self, self.res_layers[i]) for i in range(self.frozen_stages)]
        for module in modules:
            for name, tensor in sorted(module.state_dict().items()):
                digest.update(name.encode())
                digest.update(str(tensor.dtype).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def _key(self, image: Tensor) -> str:
        digest = hashlib.sha256(image.detach().cpu().contiguous().numpy().data)
        digest.update(f"{tuple(image.shape)}{image.dtype}".encode())
        return f"{self._weights_digest}-{digest.hexdigest()[:32]}"

    def _lookup(self, key: str) -> tuple[Tensor, ...] | None:
        found = self._memory.get(key)
        if found is None and self.cache_dir is not None:
            path = self.cache_dir / f"{key}.pt"
            try:
                found = tuple(torch.load(path, weights_only=True))
            except (OSError, RuntimeError, EOFError, ValueError):  # absent, or half written by a killed run
                found = None
            if found is not None:
                self._remember(key, found)
        return found

    def _remember(self, key: str, outputs: tuple[Tensor, ...]) -> None:
        if len(self._memory) < MEMORY_ENTRIES:
            self._memory[key] = outputs

    def _store(self, key: str, outputs: tuple[Tensor, ...]) -> None:
        self._remember(key, outputs)
        if self.cache_dir is None:
            return
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                torch.save(list(outputs), handle)
            os.replace(tmp, self.cache_dir / f"{key}.pt")
        except OSError:  # a full disk costs speed, never the training
            return

    def _cached_frozen(self, x: Tensor) -> tuple[Tensor, ...]:
        if self._weights_digest is None:
            self._weights_digest = self._digest_weights()
        per_image = []
        for image in x:
            key = self._key(image)
            outputs = self._lookup(key)
            if outputs is None:
                self.misses += 1
                with torch.no_grad():
                    outputs = tuple(t[0].contiguous() for t in self._frozen(image[None]))
                self._store(key, outputs)
            else:
                self.hits += 1
            per_image.append(outputs)
        return tuple(torch.stack(parts).to(x.device) for parts in zip(*per_image))

    # ---- nn.Module -----------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> FrozenCacheResNet:
        """As ResNet's; the frozen weights are digested again at the next forward (a checkpoint may have been
        loaded in between)."""
        super().train(mode)
        self._weights_digest = None
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """ResNet's forward; the frozen part from the cache when ``frozen_stages >= 0`` and nothing there
        needs gradients."""
        frozen = self.frozen_stages
        if frozen < 0 or (x.requires_grad and torch.is_grad_enabled()):
            return super().forward(x)
        *outs, x = self._cached_frozen(x)
        outs = list(outs)
        for i in range(frozen, len(self.res_layers)):
            x = getattr(self, self.res_layers[i])(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
