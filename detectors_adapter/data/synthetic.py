"""A synthetic COCO-format detection dataset that the project makes itself (no download).

128 px images of six shape classes in confusable pairs -- filled ``rectangle`` / outlined ``frame``, filled
``ellipse`` / outlined ``ring``, ``triangle`` / ``cross`` -- from 8 to 64 px, in random colours (colour says
nothing about the class) on noisy gradient backgrounds with line and dot clutter, several objects per image
and partial occlusion. A tiny detector trained for a few epochs reaches a bbox mAP far from 1, so losses can
be told apart. Every image is drawn from its own seed ``(seed, split, index)``: a dataset is identical for
the same seed on any machine, and the first ``k`` images do not depend on how many are made.

    python -m detectors_adapter.make_dataset data/shapes_v2 --train 1000 --val 500 --seed 0

The default set (:data:`DEFAULT_DATA_ROOT`, :data:`DEFAULT_TRAIN` / :data:`DEFAULT_VAL` images) is what the
mmdet adapter's default proxy trains and validates on: enough training images that one short training learns
the task and a val split large enough that its mAP is not itself noise. The pretrained backbones were
trained on another seed's images (:mod:`detectors_adapter.pretrain`), so no proxy split was seen before.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detectors_adapter.data.coco import write_coco
from gp_autoloss.errors import ConfigError

__all__ = ["CLASSES", "DEFAULT_DATA_ROOT", "DEFAULT_TRAIN", "DEFAULT_VAL", "IMAGE_SIZE", "ensure_dataset",
           "generate_dataset"]

#: category names, in category-id order (ids start at 1)
CLASSES = ("rectangle", "frame", "ellipse", "ring", "triangle", "cross")
#: where ``make demo`` and the adapter's defaults put the dataset (relative to the working directory)
DEFAULT_DATA_ROOT = Path("data/shapes_v2")
#: image counts of the default set (the adapter's default proxy split and val split)
DEFAULT_TRAIN, DEFAULT_VAL = 1000, 500
IMAGE_SIZE = 128
MIN_SIDE, MAX_SIDE = 8, 64
MAX_OBJECTS = 6
MAX_OVERLAP = 0.35  # partial occlusion, never a hidden object

Box = tuple[int, int, int, int]  # x0, y0, w, h (pixels, inclusive start, exclusive end at x0 + w)
Color = tuple[int, int, int]


def _thickness(w: int, h: int) -> int:
    return max(1, round(min(w, h) / 6))


def _blank() -> np.ndarray:
    return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)


def _rect_mask(box: Box) -> np.ndarray:
    x, y, w, h = box
    mask = _blank()
    mask[y:y + h, x:x + w] = 1
    return mask


def _ellipse_mask(box: Box, cv2: Any) -> np.ndarray:
    x, y, w, h = box
    mask = _blank()
    # shift 2 = quarter-pixel precision: the ellipse spans the box exactly
    center = (int(round((x + (w - 1) / 2) * 4)), int(round((y + (h - 1) / 2) * 4)))
    axes = (int(round((w - 1) / 2 * 4)), int(round((h - 1) / 2 * 4)))
    cv2.ellipse(mask, center, axes, 0, 0, 360, 1, -1, cv2.LINE_8, 2)
    return mask


def _hollow(outer: Callable[[Box], np.ndarray], box: Box) -> np.ndarray:
    """The shape ``outer`` draws in ``box`` minus the same shape shrunk by the outline thickness."""
    x, y, w, h = box
    t = _thickness(w, h)
    mask = outer(box)
    if w > 2 * t and h > 2 * t:  # the hole shows what is behind
        mask[outer((x + t, y + t, w - 2 * t, h - 2 * t)).astype(bool)] = 0
    return mask


def _triangle_mask(box: Box, rng: np.random.Generator, cv2: Any) -> np.ndarray:
    x, y, w, h = box
    x1, y1 = x + w - 1, y + h - 1
    apex = float(rng.uniform(0.2, 0.8))
    points = (
        [(x, y1), (x1, y1), (x + round(apex * (w - 1)), y)],  # apex up
        [(x, y), (x1, y), (x + round(apex * (w - 1)), y1)],  # apex down
        [(x1, y), (x1, y1), (x, y + round(apex * (h - 1)))],  # apex left
        [(x, y), (x, y1), (x1, y + round(apex * (h - 1)))],  # apex right
    )[int(rng.integers(4))]
    mask = _blank()
    cv2.fillPoly(mask, [np.array(points, np.int32)], 1)
    return mask


def _cross_mask(box: Box, rng: np.random.Generator) -> np.ndarray:
    x, y, w, h = box
    tw, th = max(1, round(w * rng.uniform(0.25, 0.4))), max(1, round(h * rng.uniform(0.25, 0.4)))
    cx, cy = x + round((w - tw) * rng.uniform(0.3, 0.7)), y + round((h - th) * rng.uniform(0.3, 0.7))
    mask = _blank()
    mask[y:y + h, cx:cx + tw] = 1
    mask[cy:cy + th, x:x + w] = 1
    return mask


#: each class as a mask drawer ``(box, rng, cv2) -> uint8 mask``, in :data:`CLASSES` order
_SHAPES: dict[str, Callable[[Box, np.random.Generator, Any], np.ndarray]] = {
    "rectangle": lambda box, rng, cv2: _rect_mask(box),
    "frame": lambda box, rng, cv2: _hollow(_rect_mask, box),
    "ellipse": lambda box, rng, cv2: _ellipse_mask(box, cv2),
    "ring": lambda box, rng, cv2: _hollow(lambda b: _ellipse_mask(b, cv2), box),
    "triangle": _triangle_mask,
    "cross": lambda box, rng, cv2: _cross_mask(box, rng),
}


def _background(rng: np.random.Generator) -> np.ndarray:
    size = IMAGE_SIZE
    base = rng.uniform(30, 140, size=3)
    slope = rng.uniform(-0.35, 0.35, size=(2, 3))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = base + xx[..., None] * slope[0] + yy[..., None] * slope[1]
    img = img + rng.normal(0.0, 7.0, size=(size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(img: np.ndarray, rng: np.random.Generator, cv2: Any) -> None:
    for _ in range(int(rng.integers(0, 5))):  # thin lines
        p, q = rng.integers(0, IMAGE_SIZE, size=2), rng.integers(0, IMAGE_SIZE, size=2)
        cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), _color(rng, img), 1)
    for _ in range(int(rng.integers(0, 6))):  # dots
        c = rng.integers(0, IMAGE_SIZE, size=2)
        cv2.circle(img, (int(c[0]), int(c[1])), int(rng.integers(1, 3)), _color(rng, img), -1)


def _color(rng: np.random.Generator, img: np.ndarray, box: Box | None = None) -> Color:
    """A random colour that stands out from the image (or the box's region of it)."""
    region = img if box is None else img[box[1]:box[1] + box[3], box[0]:box[0] + box[2]]
    mean = region.reshape(-1, 3).mean(0)
    for _ in range(50):
        color = rng.integers(0, 256, size=3)
        if np.abs(color - mean).sum() > 160:
            break
    return int(color[0]), int(color[1]), int(color[2])


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area: 1 when one box holds the other."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min(a[2] * a[3], b[2] * b[3])


def _place(rng: np.random.Generator, taken: list[Box]) -> Box | None:
    for _ in range(30):
        side = float(np.exp(rng.uniform(np.log(MIN_SIDE), np.log(MAX_SIDE))))
        aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
        w = int(np.clip(round(side * np.sqrt(aspect)), MIN_SIDE // 2 + 2, IMAGE_SIZE - 2))
        h = int(np.clip(round(side / np.sqrt(aspect)), MIN_SIDE // 2 + 2, IMAGE_SIZE - 2))
        x, y = int(rng.integers(0, IMAGE_SIZE - w + 1)), int(rng.integers(0, IMAGE_SIZE - h + 1))
        box = (x, y, w, h)
        if all(_overlap(box, t) <= MAX_OVERLAP for t in taken):
            return box
    return None


def _draw_image(rng: np.random.Generator, cv2: Any) -> tuple[np.ndarray, list[tuple[int, Box]]]:
    img = _background(rng)
    _clutter(img, rng, cv2)
    objects: list[tuple[int, Box]] = []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        box = _place(rng, [b for _, b in objects])
        if box is None:
            continue
        label = int(rng.integers(len(CLASSES)))
        mask = _SHAPES[CLASSES[label]](box, rng, cv2).astype(bool)
        img[mask] = _color(rng, img, box)
        objects.append((label, box))
    return img, objects


def _split(root: Path, name: str, split_index: int, count: int, seed: int, cv2: Any) -> dict[str, Any]:
    image_dir = root / name
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for k in range(count):
        rng = np.random.default_rng([seed, split_index, k])
        img, objects = _draw_image(rng, cv2)
        file_name = f"{k + 1:06d}.png"
        if not cv2.imwrite(str(image_dir / file_name), img):
            raise ConfigError(f"cannot write image {image_dir / file_name}")
        images.append({"id": k + 1, "file_name": file_name, "width": IMAGE_SIZE, "height": IMAGE_SIZE})
        for label, (x, y, w, h) in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": k + 1, "category_id": label + 1,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    return {"info": {"description": f"gp-autoloss synthetic shapes, {name} split, seed {seed}"}, "licenses": [],
            "images": images, "annotations": annotations,
            "categories": [{"id": k + 1, "name": n, "supercategory": "shape"} for k, n in enumerate(CLASSES)]}


def _paths(root: Path) -> dict[str, Path]:
    return {"root": root, "train": root / "annotations" / "train.json", "val": root / "annotations" / "val.json",
            "train_images": root / "train", "val_images": root / "val"}


def generate_dataset(root: str | Path, n_train: int = DEFAULT_TRAIN, n_val: int = DEFAULT_VAL,
                     seed: int = 0) -> dict[str, Path]:
    """Write the dataset under ``root``: ``train/``, ``val/`` PNGs and ``annotations/{train,val}.json``.

    Images are written first and each annotation file last and atomically, so a dataset whose two annotation
    files exist is complete. Returns the paths (``root``, ``train``, ``val``, ``train_images``, ``val_images``).
    """
    for name, value in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"synthetic dataset: {name} must be a positive integer, not {value!r}")
    try:
        import cv2
    except ImportError:
        raise ConfigError("the synthetic dataset needs OpenCV (pip install opencv-python)") from None
    paths = _paths(Path(root))
    try:
        for key in ("train", "val"):
            paths[key].unlink(missing_ok=True)
            shutil.rmtree(paths[f"{key}_images"], ignore_errors=True)
        for index, (key, count) in enumerate((("train", n_train), ("val", n_val))):
            coco = _split(paths["root"], key, index, count, seed, cv2)
            write_coco(paths[key], coco)
    except OSError as exc:
        raise ConfigError(f"cannot write the synthetic dataset to {root}: {exc}") from None
    return paths


def ensure_dataset(root: str | Path = DEFAULT_DATA_ROOT, n_train: int = DEFAULT_TRAIN, n_val: int = DEFAULT_VAL,
                   seed: int = 0) -> dict[str, Path]:
    """The dataset's paths under ``root``, generated first only when an annotation file is missing."""
    paths = _paths(Path(root))
    if paths["train"].is_file() and paths["val"].is_file():
        return paths
    return generate_dataset(root, n_train=n_train, n_val=n_val, seed=seed)
