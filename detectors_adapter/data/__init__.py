"""Datasets for the detectors adapter: a synthetic COCO generator, D_verify and proxy subsets, validation.

Nothing here imports mmdet; the generator needs OpenCV (installed with mmcv), the rest only the standard library.
"""

from detectors_adapter.data.coco import (
    build_verify_set,
    category_names,
    load_coco,
    sample_subset,
    validate_coco,
    write_coco,
)
from detectors_adapter.data.synthetic import CLASSES, DEFAULT_DATA_ROOT, ensure_dataset, generate_dataset

__all__ = [
    "CLASSES",
    "DEFAULT_DATA_ROOT",
    "build_verify_set",
    "category_names",
    "ensure_dataset",
    "generate_dataset",
    "load_coco",
    "sample_subset",
    "validate_coco",
    "write_coco",
]
