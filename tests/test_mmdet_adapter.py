"""MMDetFitnessAdapter: settings, config building, isolation, and real (tiny) mmdet trainings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

from detectors_adapter.fitness import MMDetFitnessAdapter  # noqa: E402
from detectors_adapter.spec import TrainSpec  # noqa: E402
from gp_autoloss import known_loss, parse  # noqa: E402
from gp_autoloss.errors import ConfigError  # noqa: E402
from gp_autoloss.fitness.base import CandidateFailed, create_adapter  # noqa: E402

pytestmark = pytest.mark.mmdet
REPO = Path(__file__).resolve().parent.parent


def test_parent_process_does_not_import_mmdet() -> None:
    code = "import sys, detectors_adapter.fitness, detectors_adapter.data; print('mmdet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"detector": "yolo"}, "detector must be one of 'fcos_tiny'"),
        ({"detector": "faster_rcnn_tiny"}, "has no sigmoid_cls branch"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"time_limit": -1}, "time_limit must be a positive number"),
        ({"device": "tpu"}, "device must be"),
        ({"bogus": 1}, "unknown option"),
        ({"other_loss": "ce"}, "other_loss 'ce' is a softmax_cls loss"),
        ({"other_loss": "1 - x"}, "other_loss '1 - x' is not a iou_reg loss"),
        ({"config": "/no/such/config.py"}, "config file not found"),
        ({"data_root": "/no/such/dir"}, "annotation file not found"),
    ],
)
def test_bad_settings_are_one_line_config_errors(tiny_data: Path, options: dict, message: str) -> None:
    options = {"data_root": str(tiny_data), **options}
    with pytest.raises(ConfigError, match=message) as info:
        create_adapter("mmdet", "sigmoid_cls", **options)
    assert "\n" not in str(info.value)


def test_dataset_with_missing_images_is_a_config_error(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="images of .* are missing"):
        create_adapter("mmdet", "iou_reg", data_root=str(tiny_data), train_images=str(tmp_path))


def test_adapter_prepares_d_verify_and_subsets(tiny_data: Path) -> None:
    adapter = create_adapter("mmdet", "softmax_cls", detector="faster_rcnn_tiny", data_root=str(tiny_data),
                             proxy_images=10, val_limit=5, data_seed=3)
    try:
        assert adapter.sizes["proxy"] == 10 and adapter.sizes["val"] == 5
        assert 1 <= adapter.sizes["verify"] <= 6
        described = adapter.describe()
        json.dumps(described)
        assert described["adapter"] == "mmdet" and described["detector"] == "faster_rcnn_tiny"
        tmp = adapter._tmp
        assert tmp.is_dir()
    finally:
        adapter.close()
    assert not tmp.exists()


def _spec(tiny_data: Path, tmp_path: Path, **kw: object) -> TrainSpec:
    base = dict(detector="fcos_tiny", space="sigmoid_cls", formula=known_loss("cse_b_cls").to_prefix(),
                train_ann=str(tiny_data / "annotations/train.json"), train_images=str(tiny_data / "train"),
                test_ann=str(tiny_data / "annotations/val.json"), test_images=str(tiny_data / "val"),
                classes=["rectangle", "frame", "ellipse", "ring", "triangle", "cross"], epochs=4,
                work_dir=str(tmp_path), result=str(tmp_path / "r.json"), train_size=16)
    base.update(kw)
    return TrainSpec(**base)


@pytest.mark.parametrize("detector", ["fcos_tiny", "faster_rcnn_tiny", "fcos_r50", "faster_rcnn_r50"])
def test_build_config_puts_the_candidate_in_the_searched_branch(tiny_data: Path, tmp_path: Path,
                                                                detector: str) -> None:
    from detectors_adapter.build_config import build_config
    from detectors_adapter.detectors import get_detector

    det = get_detector(detector)
    spec = _spec(tiny_data, tmp_path, detector=detector, space="iou_reg", formula=known_loss("cse_a_reg").to_prefix(),
                 classes=["a", "b"])
    cfg = build_config(spec)
    head = cfg.model
    for key in det.head:
        head = head[key]
    assert head.loss_bbox.type == "GPLoss" and head.loss_bbox.space == "iou_reg"
    assert head.loss_cls.type in ("CrossEntropyLoss", "FocalLoss")  # the fixed other branch
    assert head.num_classes == 2
    assert cfg.train_cfg.max_epochs == 4
    assert cfg.default_hooks.checkpoint is None and "visualization" not in cfg.default_hooks
    assert cfg.custom_hooks[-1].type == "NonFiniteLossHook"
    assert cfg.val_dataloader is None and cfg.test_evaluator.ann_file == spec.test_ann
    assert cfg.train_dataloader.dataset.metainfo.classes == ("a", "b")
    for sched in cfg.param_scheduler:
        if sched.get("by_epoch", True):
            assert sched["end"] <= 4


def test_build_config_other_formula_and_bad_options(tiny_data: Path, tmp_path: Path) -> None:
    from detectors_adapter.build_config import build_config

    cfg = build_config(_spec(tiny_data, tmp_path, other_formula=known_loss("cse_b_reg").to_prefix()))
    assert cfg.model.bbox_head.loss_cls.type == "GPLoss" and cfg.model.bbox_head.loss_cls.alpha == 0.25
    assert cfg.model.bbox_head.loss_bbox.type == "GPLoss" and cfg.model.bbox_head.loss_bbox.space == "iou_reg"
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        build_config(_spec(tiny_data, tmp_path, epochs=0))
    with pytest.raises(ConfigError, match="has no softmax_cls branch"):
        build_config(_spec(tiny_data, tmp_path, space="softmax_cls"))


def test_time_limit_kills_the_evaluation(tiny_data: Path) -> None:
    adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), time_limit=0.5, threads=1)
    try:
        with pytest.raises(CandidateFailed, match="time limit of 0.5 s exceeded"):
            adapter.proxy(known_loss("fli"), seed=0)
        assert not any(adapter._tmp.glob("proxy-*"))  # cleaned up
    finally:
        adapter.close()


def test_fcos_tiny_real_training_gives_finite_map(tiny_data: Path) -> None:
    """The one real mmdet training that runs in CI: a few iterations of tiny FCOS, then COCO evaluation."""
    adapter = MMDetFitnessAdapter("sigmoid_cls", detector="fcos_tiny", data_root=str(tiny_data), epochs=1,
                                  threads=1, time_limit=300)
    try:
        metric = adapter.proxy(known_loss("fli"), seed=0)
        assert math.isfinite(metric) and 0.0 <= metric <= 1.0
        assert adapter.last_result["iters"] == 2 and math.isfinite(adapter.last_result["last_loss"])
        # after two iterations there may be no detection at all: CocoMetric then reports nothing and mAP is 0
        assert metric == adapter.last_result["metrics"].get("coco/bbox_mAP", 0.0)
        assert not any(adapter._tmp.glob("proxy-*"))  # the work directory is gone, no checkpoint left
    finally:
        adapter.close()


@pytest.mark.slow
def test_nan_loss_stops_training_as_a_failed_candidate(tiny_data: Path) -> None:
    adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=3, threads=1)
    try:
        with pytest.raises(CandidateFailed, match="non-finite loss at epoch 1 iter 1"):
            adapter.proxy(parse("log(x - 3)", "sigmoid_cls"), seed=0)
    finally:
        adapter.close()


@pytest.mark.slow
def test_cse_a_two_stage_tiny_training(tiny_data: Path) -> None:
    """CSE-Autoloss-A (both branches GPLoss) trains a tiny Faster R-CNN to a finite mAP."""
    adapter = MMDetFitnessAdapter("softmax_cls", detector="faster_rcnn_tiny", data_root=str(tiny_data), epochs=2,
                                  verify_epochs=4, other_loss="cse_a_reg", threads=1, time_limit=600)
    try:
        for metric in (adapter.proxy(known_loss("cse_a_cls"), seed=0), adapter.verify(known_loss("cse_a_cls"), 0)):
            assert math.isfinite(metric) and 0.0 <= metric <= 1.0
    finally:
        adapter.close()


@pytest.mark.slow
def test_cse_b_one_stage_tiny_training(tiny_data: Path) -> None:
    """CSE-Autoloss-B (both branches GPLoss) trains a tiny FCOS to a finite mAP."""
    adapter = MMDetFitnessAdapter("iou_reg", detector="fcos_tiny", data_root=str(tiny_data), epochs=2,
                                  verify_epochs=4, other_loss="cse_b_cls", threads=1, time_limit=600)
    try:
        for metric in (adapter.proxy(known_loss("cse_b_reg"), seed=0), adapter.verify(known_loss("cse_b_reg"), 0)):
            assert math.isfinite(metric) and 0.0 <= metric <= 1.0
    finally:
        adapter.close()


def test_build_config_for_distributed_training(tiny_data: Path, tmp_path: Path) -> None:
    from detectors_adapter.build_config import build_config

    cfg = build_config(_spec(tiny_data, tmp_path, nproc=2))
    assert cfg.launcher == "pytorch" and cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.model_wrapper_cfg.type == "CPUDistributedDataParallel"
    assert build_config(_spec(tiny_data, tmp_path)).launcher == "none"
    with pytest.raises(ConfigError, match="nproc must be a positive integer"):
        create_adapter("mmdet", "sigmoid_cls", data_root=str(tiny_data), nproc=0)


def test_one_candidate_trained_by_two_ranks(tiny_data: Path) -> None:
    """``nproc=2``: mmdet's distributed training of one candidate (torchrun, gloo on CPU), rank 0 reports."""
    adapter = MMDetFitnessAdapter("sigmoid_cls", detector="fcos_tiny", data_root=str(tiny_data), epochs=1,
                                  threads=1, time_limit=300, nproc=2)
    try:
        metric = adapter.proxy(known_loss("fli"), seed=0)
        assert math.isfinite(metric) and 0.0 <= metric <= 1.0
        assert adapter.last_result["iters"] == 1  # 16 images, batch 8 per rank, 2 ranks: one iteration
        assert math.isfinite(adapter.last_result["last_loss"])
    finally:
        adapter.close()
