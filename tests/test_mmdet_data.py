"""The detectors adapter's data tools: synthetic COCO generator, D_verify builder, proxy sampler, validation."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("cv2")
pytestmark = pytest.mark.mmdet  # the detection plugin's dataset code (needs the detection extras' OpenCV)

from detectors_adapter.data import (  # noqa: E402
    CLASSES,
    build_verify_set,
    category_names,
    ensure_dataset,
    generate_dataset,
    load_coco,
    sample_subset,
    validate_coco,
)
from gp_autoloss.errors import ConfigError  # noqa: E402


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    generate_dataset(root, n_train=40, n_val=10, seed=0)
    return root


def test_generator_writes_valid_coco_with_all_classes(shapes: Path) -> None:
    train = validate_coco(shapes / "annotations" / "train.json", shapes / "train")
    val = validate_coco(shapes / "annotations" / "val.json", shapes / "val")
    assert len(train["images"]) == 40 and len(val["images"]) == 10
    assert category_names(train) == CLASSES == category_names(val)
    assert {a["category_id"] for a in train["annotations"]} == set(range(1, len(CLASSES) + 1))
    sizes = []
    for ann in train["annotations"]:
        x, y, w, h = ann["bbox"]
        assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128 and w > 0 and h > 0
        sizes.append(max(w, h))
    assert min(sizes) < 16 and max(sizes) > 40  # varied sizes
    per_image = [sum(a["image_id"] == img["id"] for a in train["annotations"]) for img in train["images"]]
    assert max(per_image) > 2  # several objects (overlap/clutter) per image


def test_generator_is_deterministic_by_seed(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_dataset(tmp_path / name, n_train=6, n_val=2, seed=seed)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_generator_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_dataset(tmp_path, n_train=200, n_val=50, seed=1)
    assert time.perf_counter() - start < 20.0  # about 2 s on a 2-core machine


def test_ensure_dataset_generates_only_when_missing(tmp_path: Path) -> None:
    paths = ensure_dataset(tmp_path / "d", n_train=3, n_val=2)
    stamp = paths["train"].stat().st_mtime_ns
    again = ensure_dataset(tmp_path / "d", n_train=3, n_val=2)
    assert again == paths and again["train"].stat().st_mtime_ns == stamp


def test_verify_set_has_one_image_per_category_and_is_deterministic(shapes: Path, tmp_path: Path) -> None:
    ann = shapes / "annotations" / "train.json"
    a = load_coco(build_verify_set(ann, tmp_path / "a.json", seed=0))
    b = load_coco(build_verify_set(ann, tmp_path / "b.json", seed=0))
    c = load_coco(build_verify_set(ann, tmp_path / "c.json", seed=1))
    assert a["images"] == b["images"]
    assert len(a["images"]) == len(CLASSES)  # 40 images: every category finds an image of its own
    assert [i["id"] for i in a["images"]] != [i["id"] for i in c["images"]]
    assert a["categories"] == load_coco(ann)["categories"]  # class indices stay the same
    chosen = {i["id"] for i in a["images"]}
    for cat in range(1, len(CLASSES) + 1):
        assert any(x["category_id"] == cat and x["image_id"] in chosen for x in a["annotations"])
    assert all(x["image_id"] in chosen for x in a["annotations"])


def test_verify_set_from_a_foreign_coco_file(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 10 + k, "file_name": f"x{k}.jpg", "width": 50, "height": 40} for k in range(4)],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 2, "image_id": 11, "category_id": 3, "bbox": [2, 2, 9, 9], "area": 81, "iscrowd": 0},
            {"id": 3, "image_id": 11, "category_id": 7, "bbox": [2, 2, 9, 9], "area": 81, "iscrowd": 0},
        ],
        "categories": [{"id": 7, "name": "car"}, {"id": 3, "name": "person"}, {"id": 9, "name": "bus"}],
    }
    src = tmp_path / "foreign.json"
    src.write_text(json.dumps(coco))
    out = load_coco(build_verify_set(src, tmp_path / "dv.json", seed=5))
    assert {i["id"] for i in out["images"]} == {10, 11}  # 'bus' has no image; others take distinct images
    assert category_names(out) == ("person", "car", "bus")


def test_proxy_subset_sampler(shapes: Path, tmp_path: Path) -> None:
    ann = shapes / "annotations" / "train.json"
    a = load_coco(sample_subset(ann, tmp_path / "a.json", 12, seed=2))
    b = load_coco(sample_subset(ann, tmp_path / "b.json", 12, seed=2))
    assert a == b and len(a["images"]) == 12
    ids = {i["id"] for i in a["images"]}
    assert all(x["image_id"] in ids for x in a["annotations"])
    assert len(load_coco(sample_subset(ann, tmp_path / "all.json", None))["images"]) == 40
    with pytest.raises(ConfigError, match="proxy subset size"):
        sample_subset(ann, tmp_path / "bad.json", 0)


def _write(tmp_path: Path, coco: object, name: str = "ann.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(coco) if not isinstance(coco, str) else coco)
    return path


def test_validation_reports_missing_images(shapes: Path, tmp_path: Path) -> None:
    coco = load_coco(shapes / "annotations" / "val.json")
    coco["images"][3]["file_name"] = "nope.png"
    with pytest.raises(ConfigError, match=r"1 of 10 images .* missing .*nope\.png"):
        validate_coco(_write(tmp_path, coco), shapes / "val")
    with pytest.raises(ConfigError, match="image directory not found"):
        validate_coco(shapes / "annotations" / "val.json", tmp_path / "no-such-dir")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["annotations"][0].update(bbox=[1, 2, -3, 4]), "negative size"),
        (lambda c: c["annotations"][0].update(bbox=[1, 2, 3]), "not 4 finite numbers"),
        (lambda c: c["annotations"][0].update(image_id=999999), "unknown image id"),
        (lambda c: c["annotations"][0].update(category_id=42), "unknown category id"),
        (lambda c: c["images"][0].pop("file_name"), "lacks 'id' or 'file_name'"),
        (lambda c: c.pop("categories"), "is not COCO"),
    ],
)
def test_validation_reports_broken_annotations(shapes: Path, tmp_path: Path, mutate, message: str) -> None:
    coco = load_coco(shapes / "annotations" / "val.json")
    mutate(coco)
    with pytest.raises(ConfigError, match=message) as info:
        validate_coco(_write(tmp_path, coco), shapes / "val")
    assert "\n" not in str(info.value)


def test_validation_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not readable JSON"):
        load_coco(_write(tmp_path, "{not json"))
    with pytest.raises(ConfigError, match="not found"):
        load_coco(tmp_path / "missing.json")
