"""An example gp-autoloss plugin: loss search for binary segmentation.

Importing this module (every ``gp-autoloss`` command does, through the entry point in ``setup.py``) registers:

* the primitive ``square`` (:mod:`gpa_segmentation.space`);
* the space ``bin_seg``: per-pixel logit ``x`` (signed reals, the prediction) and mask ``g`` (binary);
* the known loss ``bce_seg`` (binary cross-entropy with logits), the space's initial loss;
* the probes and the convergence check of ``bin_seg`` (:mod:`gpa_segmentation.probes`);
* the fitness adapter ``seg_blobs``: a tiny conv net on synthetic blobs, validation IoU
  (:mod:`gpa_segmentation.adapter`);
* the executor ``inline``: every evaluation in the driver process (:mod:`gpa_segmentation.executor`);
* the export format ``seg_torch``: a Python snippet that builds the loss as a torch module
  (:mod:`gpa_segmentation.export`).

Only public API of ``primitives`` and ``gp_autoloss`` is used.
"""

from gpa_segmentation import adapter, executor, export, probes, space  # noqa: F401  (each registers on import)
from gpa_segmentation.adapter import SegBlobsAdapter
from gpa_segmentation.space import INITIAL_LOSS, SPACE

__all__ = ["INITIAL_LOSS", "SPACE", "SegBlobsAdapter"]
