"""The gp-autoloss plugin of the detection extras: the ``mmdet`` fitness adapter and the ``mmdet`` export format.

Loaded by every ``gp-autoloss`` command through this package's entry point (group ``gp_autoloss.plugins``
in ``setup.py``), like any other plugin. It imports neither mmdet nor mmcv: the adapter class is imported
when a search builds it, and a missing extra is a one-line error then.
"""

from __future__ import annotations

from detectors_adapter.export import MMDET_PLACES, mmdet_snippet
from gp_autoloss.fitness.base import register_lazy_adapter
from gp_autoloss.reporting.export import register_export_format

__all__: list[str] = []

# ``config`` is a Python file that mmengine executes; ``cfg_options`` edits that config: both name code to run
register_lazy_adapter("mmdet", "detectors_adapter.fitness:MMDetFitnessAdapter", code_options=("config", "cfg_options"))
register_export_format("mmdet", mmdet_snippet, help="an MMDetection loss config snippet", spaces=tuple(MMDET_PLACES))
