"""The detectors the fitness adapter can train: config file, where the searched head sits, branch spaces.

Plain data (no mmdet import). The fixed loss of the branch that is not searched is the one in the config
(tiny and R50 Faster R-CNN: CrossEntropyLoss / GIoULoss x10; FCOS: FocalLoss / GIoULoss), unless the
adapter's ``other_loss`` replaces it with a ``GPLoss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gp_autoloss.errors import ConfigError

__all__ = ["CONFIG_DIR", "DETECTORS", "Detector", "get_detector"]

#: the python mmengine configs shipped with the adapter
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class Detector:
    """A trainable detector.

    Attributes:
        name: adapter option value (``detector=...``).
        config: file name under :data:`CONFIG_DIR`.
        head: keys from ``model`` to the head holding ``loss_cls`` and ``loss_bbox``.
        cls_space: the classification branch's space (``iou_reg`` is the regression branch's).
        description: one line for help texts.
        proxy_epochs, proxy_images, verify_epochs: the adapter's defaults of ``epochs``, ``proxy_images`` and
            ``verify_epochs`` for this detector: its proxy task and D_verify, sized so that a tiny detector's
            proxy evaluation costs at most 90 s on one CPU thread and D_verify at most a fifth of that
            (``benchmarks/proxy_signal.py`` measures both).
    """

    name: str
    config: str
    head: tuple[str, ...]
    cls_space: str
    description: str
    proxy_epochs: int = 4
    proxy_images: int | None = None
    verify_epochs: int = 64

    @property
    def spaces(self) -> tuple[str, str]:
        """The searchable spaces: classification, regression."""
        return self.cls_space, "iou_reg"

    @property
    def config_path(self) -> Path:
        """Absolute path of the config file."""
        return CONFIG_DIR / self.config

    def branch(self, space: str) -> str:
        """``"loss_cls"`` or ``"loss_bbox"``: the head key of the branch ``space`` is searched in."""
        if space == self.cls_space:
            return "loss_cls"
        if space == "iou_reg":
            return "loss_bbox"
        raise ConfigError(f"detector {self.name!r} has no {space} branch (its branches: {', '.join(self.spaces)})")

    def other_space(self, space: str) -> str:
        """The space of the branch that is not searched."""
        return "iou_reg" if self.branch(space) == "loss_cls" else self.cls_space


DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector("fcos_tiny", "fcos_tiny.py", ("bbox_head",), "sigmoid_cls",
                 "FCOS, ResNet-18/16 + FPN 64, 128 px, CPU (one-stage, CSE-Autoloss-B)",
                 proxy_epochs=4, verify_epochs=48),
        Detector("faster_rcnn_tiny", "faster_rcnn_tiny.py", ("roi_head", "bbox_head"), "softmax_cls",
                 "Faster R-CNN, ResNet-18/16 + FPN 64, 128 px, CPU (two-stage, CSE-Autoloss-A)",
                 proxy_epochs=2, proxy_images=700, verify_epochs=24),
        Detector("fcos_r50", "fcos_r50.py", ("bbox_head",), "sigmoid_cls",
                 "FCOS R50-caffe-FPN-GN 1x, COCO (the paper's one-stage setting)", proxy_epochs=1),
        Detector("faster_rcnn_r50", "faster_rcnn_r50.py", ("roi_head", "bbox_head"), "softmax_cls",
                 "Faster R-CNN R50-FPN 1x, COCO (the paper's two-stage setting)", proxy_epochs=1),
    )
}


def get_detector(name: str) -> Detector:
    """A detector by name; unknown names raise a one-line :class:`ConfigError`."""
    try:
        return DETECTORS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown detector {name!r} (known: {', '.join(DETECTORS)})") from None
