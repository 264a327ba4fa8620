"""The shipped pretrained starts of the tiny detectors (plain data and a checksum check; no mmdet import).

``checkpoints/fcos_tiny_shapes.pth`` holds the ``backbone.`` and ``neck.`` tensors of tiny FCOS trained on
the synthetic pretraining set (``python -m detectors_adapter.pretrain``); ``checkpoints/manifest.json``
records, per file, how it was made and its SHA-256. Both tiny detectors share the ResNet-18/16 backbone and
the FPN, so both load backbone and neck (as an ImageNet-pretrained backbone is loaded into any detector); the
heads start from scratch. Training from it keeps the stem and stages 1-2 frozen (:class:`FineTuning`). The adapter option ``pretrained`` is ``default`` (the shipped
file for the tiny detectors, none for the R50 ones, whose configs load ImageNet weights themselves), ``none``
(train from scratch) or a path to a plain tensor state dict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from gp_autoloss.errors import ConfigError

__all__ = ["CHECKPOINT_DIR", "MANIFEST", "PRETRAINED", "PRETRAIN_DATA_SEED", "FineTuning", "PretrainedStart",
           "check_state_dict", "fine_tuning", "read_state_dict", "resolve_pretrained", "sha256"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MANIFEST = CHECKPOINT_DIR / "manifest.json"
#: seed of the synthetic pretraining set; the proxy, val and D_verify splits use other seeds
PRETRAIN_DATA_SEED = 1000


@dataclass(frozen=True)
class FineTuning:
    """How a detector trains from a pretrained start: the backbone stages kept frozen (mmdet's
    ``frozen_stages``: the stem and the first N stages; ``None``: the config's) and the learning rate of the
    new head (``None``: the config's)."""

    frozen_stages: int | None = None
    lr: float | None = None


@dataclass(frozen=True)
class PretrainedStart:
    """A shipped checkpoint for a detector: its file under :data:`CHECKPOINT_DIR`, the detector that
    ``pretrain`` trains to make it (with its native losses), the key prefixes it holds, and how a proxy
    training fine-tunes from it (as ImageNet-initialised detectors freeze their first stages)."""

    file: str
    pretrained_by: str
    prefixes: tuple[str, ...] = ("backbone.", "neck.")
    tuning: FineTuning = FineTuning()


#: the stem and stages 1-2 of the pretrained ResNet-18/16 stay frozen (as mmdet's ImageNet configs freeze
#: stage 1): 15 % less time per proxy training here, same level; the new head learns at 2e-3 (AdamW)
_TINY_TUNING = FineTuning(frozen_stages=2, lr=2e-3)
PRETRAINED: dict[str, PretrainedStart] = {
    "fcos_tiny": PretrainedStart("fcos_tiny_shapes.pth", "fcos_tiny", tuning=_TINY_TUNING),
    # its FPN (strides 8-64, extra conv on the output) is FCOS's, so it loads the neck too
    "faster_rcnn_tiny": PretrainedStart("fcos_tiny_shapes.pth", "fcos_tiny", tuning=_TINY_TUNING),
}


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | Path) -> dict:
    """Read ``path`` as training does (torch ``weights_only``): a non-empty ``{key: tensor}`` dict (an
    mmengine-style ``{"state_dict": ...}`` wrapper is unwrapped), or a one-line :class:`ConfigError`."""
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"pretrained checkpoint not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - whatever torch says, the file is not a usable checkpoint
        raise ConfigError(f"cannot read pretrained checkpoint {path} ({type(exc).__name__}); "
                          "give a plain tensor state dict") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"pretrained checkpoint {path} is not a state dict of tensors")
    return state


def check_state_dict(path: Path) -> int:
    """Check that ``path`` is a tensor state dict (:func:`read_state_dict`) with ``backbone.`` keys; returns
    the number of tensors, or raises a one-line :class:`ConfigError`."""
    state = read_state_dict(path)
    if not any(str(k).startswith("backbone.") for k in state):
        raise ConfigError(f"pretrained checkpoint {path} holds no backbone.* tensors")
    return len(state)


def fine_tuning(detector: str, option: str | None) -> FineTuning:
    """How ``detector`` trains with the adapter option ``pretrained``: the shipped start's recipe for
    ``default``; the config's settings for ``none`` and for a user's checkpoint."""
    start = PRETRAINED.get(detector) if option == "default" else None
    return start.tuning if start is not None else FineTuning()


def resolve_pretrained(detector: str, option: str | None,
                       directory: Path = CHECKPOINT_DIR) -> tuple[str | None, list[str]]:
    """The checkpoint path and required key prefixes for the adapter option ``pretrained``.

    ``default``: the shipped checkpoint of a tiny detector (under ``directory``), checked against the
    manifest's SHA-256 (a missing or altered file is a one-line :class:`ConfigError`, never a silent random
    start); ``none`` or ``None``: no checkpoint; any other value: a user's state-dict file, which must be a
    readable tensor state dict with backbone tensors (whether they fit the model is checked when training
    loads it).
    """
    if option is None or option == "none":
        return None, []
    if not isinstance(option, str) or not option:
        raise ConfigError(f"mmdet adapter: pretrained must be 'default', 'none' or a file path, not {option!r}")
    if option == "default":
        start = PRETRAINED.get(detector)
        if start is None:
            return None, []
        path, manifest = directory / start.file, directory / MANIFEST.name
        try:
            expected = json.loads(manifest.read_text(encoding="utf-8"))[start.file]["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(f"mmdet adapter: no checksum for {detector}'s pretrained checkpoint in {manifest}; "
                              f"rebuild it: python -m detectors_adapter.pretrain --detector {start.pretrained_by}") from None
        if not path.is_file():
            raise ConfigError(f"mmdet adapter: pretrained checkpoint {path} is missing; rebuild it: "
                              f"python -m detectors_adapter.pretrain --detector {start.pretrained_by}")
        if sha256(path) != expected:
            raise ConfigError(f"mmdet adapter: pretrained checkpoint {path} does not match its checksum; rebuild "
                              f"it: python -m detectors_adapter.pretrain --detector {start.pretrained_by}")
        return str(path), list(start.prefixes)
    path = Path(option)
    if not path.is_file():
        raise ConfigError(f"mmdet adapter: pretrained checkpoint not found: {option}")
    check_state_dict(path)
    return str(path.resolve()), ["backbone."]
