"""COCO annotation files: load and validate with one-line errors, D_verify and proxy subsets.

Works on any COCO-format detection file (the synthetic shapes, COCO itself, VOC or BDD converted to COCO):

* :func:`validate_coco` -- the file is COCO, every annotation is sane and every image is on disk;
* :func:`build_verify_set` -- the paper's D_verify: one image per category, deterministic by seed;
* :func:`sample_subset` -- a random subset of the images (the proxy training split), deterministic by seed.

Subsets keep the file's categories unchanged, so class indices are the same in every split.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gp_autoloss.errors import ConfigError

__all__ = ["build_verify_set", "category_names", "load_coco", "sample_subset", "validate_coco", "write_coco"]

Coco = dict[str, Any]
_MAX_SHOWN = 3


def load_coco(path: str | Path) -> Coco:
    """Read a COCO annotation file; a missing, unreadable or non-COCO file raises a one-line ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"annotation file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"annotation file {path} is not readable JSON: {reason}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations", "categories")):
        raise ConfigError(f"annotation file {path} is not COCO: it needs 'images', 'annotations' and 'categories' "
                          "lists")
    return data


def write_coco(path: str | Path, coco: Mapping[str, Any]) -> Path:
    """Write ``coco`` as JSON atomically (a temporary file renamed into place); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(coco, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
    return path


def category_names(coco: Mapping[str, Any]) -> tuple[str, ...]:
    """Category names in category-id order (the detector's class indices)."""
    return tuple(str(c["name"]) for c in sorted(coco["categories"], key=lambda c: c["id"]))


def _is_box(bbox: Any) -> bool:
    return (isinstance(bbox, list) and len(bbox) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in bbox))


def _check_annotations(coco: Coco, where: Path) -> None:
    image_ids: set[Any] = set()
    for k, img in enumerate(coco["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise ConfigError(f"{where}: image #{k} lacks 'id' or 'file_name'")
        if img["id"] in image_ids:
            raise ConfigError(f"{where}: duplicate image id {img['id']!r}")
        image_ids.add(img["id"])
    cat_ids: set[Any] = set()
    for k, cat in enumerate(coco["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise ConfigError(f"{where}: category #{k} lacks 'id' or 'name'")
        cat_ids.add(cat["id"])
    if not cat_ids:
        raise ConfigError(f"{where}: no categories")
    for k, ann in enumerate(coco["annotations"]):
        if not isinstance(ann, dict):
            raise ConfigError(f"{where}: annotation #{k} is not an object")
        name = f"annotation {ann.get('id', f'#{k}')}"
        if ann.get("image_id") not in image_ids:
            raise ConfigError(f"{where}: {name} has an unknown image id {ann.get('image_id')!r}")
        if ann.get("category_id") not in cat_ids:
            raise ConfigError(f"{where}: {name} has an unknown category id {ann.get('category_id')!r}")
        bbox = ann.get("bbox")
        if not _is_box(bbox):
            raise ConfigError(f"{where}: {name} bbox {bbox!r} is not 4 finite numbers [x, y, w, h]")
        if bbox[2] < 0 or bbox[3] < 0:
            raise ConfigError(f"{where}: {name} bbox {bbox!r} has a negative size")


def validate_coco(ann_file: str | Path, image_dir: str | Path) -> Coco:
    """Load ``ann_file`` and check it against ``image_dir``; returns the annotations.

    Raises a one-line :class:`ConfigError` for a missing or broken file, an annotation with an unknown image
    or category, a bbox that is not ``[x, y, w, h]`` with finite, non-negative sizes, or missing images.
    """
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    coco = load_coco(ann_file)
    _check_annotations(coco, ann_file)
    if not image_dir.is_dir():
        raise ConfigError(f"image directory not found: {image_dir}")
    missing = [str(img["file_name"]) for img in coco["images"] if not (image_dir / str(img["file_name"])).is_file()]
    if missing:
        shown = ", ".join(missing[:_MAX_SHOWN]) + (", ..." if len(missing) > _MAX_SHOWN else "")
        raise ConfigError(f"{len(missing)} of {len(coco['images'])} images of {ann_file} are missing in {image_dir} "
                          f"(e.g. {shown})")
    return coco


def _subset(coco: Coco, keep: set[Any]) -> Coco:
    out = {k: v for k, v in coco.items() if k not in ("images", "annotations")}
    out["images"] = [img for img in coco["images"] if img["id"] in keep]
    out["annotations"] = [a for a in coco["annotations"] if a["image_id"] in keep]
    return out


def build_verify_set(ann_file: str | Path, out_file: str | Path, seed: int = 0) -> Path:
    """Write D_verify: one image per category (distinct images where possible), chosen by ``seed``.

    Categories with the fewest images choose first, so rare categories keep an image of their own; a
    category without any image is left out of the images (it stays in ``categories``). Returns ``out_file``.
    """
    coco = load_coco(ann_file)
    images_of: dict[Any, list[Any]] = {c["id"]: [] for c in coco["categories"]}
    for ann in coco["annotations"]:
        imgs = images_of.get(ann.get("category_id"))
        if imgs is not None and not ann.get("iscrowd", 0) and ann.get("image_id") not in imgs:
            imgs.append(ann["image_id"])
    rng = random.Random(seed)
    chosen: list[Any] = []
    for cat in sorted(images_of, key=lambda c: (len(images_of[c]), str(c))):
        free = sorted((i for i in images_of[cat] if i not in chosen), key=str)
        if free:
            chosen.append(rng.choice(free))
    return write_coco(out_file, _subset(coco, set(chosen)))


def sample_subset(ann_file: str | Path, out_file: str | Path, size: int | None, seed: int = 0) -> Path:
    """Write a random subset of ``size`` images (``None`` or more than there are: all), chosen by ``seed``."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(f"proxy subset size must be a positive integer or None, not {size!r}")
    coco = load_coco(ann_file)
    ids = [img["id"] for img in coco["images"]]
    keep = set(ids) if size is None or size >= len(ids) else set(random.Random(seed).sample(ids, size))
    return write_coco(out_file, _subset(coco, keep))
