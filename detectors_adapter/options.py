"""The ``mmdet`` adapter's options, declared once: checks, defaults, ``--help`` text and a run's record.

Imports neither mmdet nor mmcv (nor the adapter): the plugin (:mod:`detectors_adapter.plugin`) registers the
adapter lazily with this declaration, so ``gp-autoloss search --adapter mmdet --help`` lists the options and a
search checks them before a run directory exists, with or without the detection extras installed.

Time: ``time_limit`` and ``verify_time_limit`` are the seconds the adapter gives its training subprocess (killed
with its process group after them). In a search they may not exceed the search's ``--time-limit`` (the
executor's hard limit on every evaluation) and default to it; used directly, ``time_limit`` defaults to
:data:`gp_autoloss.options.DEFAULT_TIME_LIMIT` and ``verify_time_limit`` to ``time_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors_adapter.data.synthetic import DEFAULT_DATA_ROOT
from detectors_adapter.detectors import DETECTORS
from gp_autoloss.errors import ConfigError
from gp_autoloss.options import Options, option

__all__ = ["MMDetOptions"]


@dataclass(frozen=True)
class MMDetOptions(Options):
    """Settings of :class:`~detectors_adapter.fitness.MMDetFitnessAdapter` (``--adapter-option NAME=VALUE``)."""

    detector: str = option("fcos_tiny", "the detector trained (the tiny ones run on a CPU; the R50 ones are the "
                           "paper's COCO settings)", choices=tuple(DETECTORS))  # fmt: skip
    data_root: str = option(str(DEFAULT_DATA_ROOT), "dataset directory; the four paths below are relative to it (or "
                            "absolute)")  # fmt: skip
    train_ann: str = option("annotations/train.json", "COCO annotation file of the training split")
    train_images: str = option("train", "image directory of the training split")
    val_ann: str = option("annotations/val.json", "COCO annotation file of the val split")
    val_images: str = option("val", "image directory of the val split")
    generate_data: bool = option(False, "generate the synthetic shapes dataset at data_root when it is missing")
    epochs: int | None = option(None, "proxy task: training epochs (None: the detector's default; fcos_tiny 4, "
                                "faster_rcnn_tiny 2, the R50 ones 1)", ge=1)  # fmt: skip
    verify_epochs: int | None = option(None, "D_verify: passes over its images, one per category (None: the "
                                       "detector's default; fcos_tiny 48, faster_rcnn_tiny 24, the R50 ones 64)",
                                       ge=1)  # fmt: skip
    proxy_images: int | None = option(None, "proxy task: random training images trained on (None: the detector's "
                                      "default; faster_rcnn_tiny 700, all for the others)", ge=1)  # fmt: skip
    val_limit: int | None = option(None, "proxy task: random val images tested on (None: all)", ge=1)
    data_seed: int = option(0, "seed of D_verify and the subsets")
    time_limit: float | None = option(None, "seconds per proxy evaluation, after which the training process is "
                                      "killed", gt=0, time_budget=True)  # fmt: skip
    verify_time_limit: float | None = option(None, "seconds per D_verify evaluation (None outside a search: "
                                             "time_limit)", gt=0, time_budget=True)  # fmt: skip
    device: str = option("cpu", "where training runs", pattern=r"cpu|cuda(:\d+)?", rule="'cpu', 'cuda' or 'cuda:N'")
    threads: int | None = option(1, "torch CPU threads per evaluation (None: torch decides)", ge=1)
    batch_size: int | None = option(None, "override of the detector config's batch size", ge=1)
    lr: float | None = option(None, "override of the detector config's learning rate (the tiny detectors' "
                              "default start trains at 2e-3)", gt=0)  # fmt: skip
    other_loss: str | None = option(None, "formula or known loss name for the branch not searched (None: the "
                                    "config's loss)")  # fmt: skip
    config: str | None = option(None, "another mmengine config file for the detector (same head layout)", code=True)
    cfg_options: dict[str, Any] | None = option(None, '{"dotted.key": value} overrides of the detector config',
                                                code=True)  # fmt: skip
    nproc: int = option(1, "training processes per evaluation: GPUs with device=cuda (torchrun, NCCL), gloo "
                        "ranks on CPU", ge=1)  # fmt: skip
    pretrained: str | None = option("default", "'default' (the tiny detectors' shipped backbone + neck, "
                                    "pretrained on synthetic shapes no split uses; stem and stages 1-2 frozen), "
                                    "'none' (from scratch) or a state-dict file")  # fmt: skip
    fork_server: bool = option(True, "start each training as a fork of a process with mmdet imported (saves the "
                               "imports' seconds; device=cpu only) instead of a new interpreter")  # fmt: skip
    frozen_cache: bool = option(True, "compute a pretrained ResNet's frozen stem and stages once per image and "
                                "share them between the adapter's trainings (each image's value is the same "
                                "cached or not)")  # fmt: skip
    keep_work_dirs: bool = option(False, "keep each evaluation's work directory (logs) for debugging")
    work_root: str | None = option(None, "where temporary directories go (None: the system's)")

    def check(self, owner: str, space: str | None) -> None:
        """The detector must have a branch of the searched space."""
        if space is not None:
            detector = DETECTORS[self.detector]
            if space not in detector.spaces:
                raise ConfigError(f"{owner}: detector {detector.name!r} has no {space} branch (its branches: "
                                  f"{', '.join(detector.spaces)})")  # fmt: skip
        if self.pretrained == "":
            raise ConfigError(f"{owner}: pretrained must be 'default', 'none' or a file path, not ''")
