"""The gp-autoloss plugin of the detection extras: the ``mmdet`` fitness adapter and the ``mmdet`` export format.

Loaded by every ``gp-autoloss`` command through this package's entry point (group ``gp_autoloss.plugins``
in ``setup.py``), like any other plugin. It imports neither mmdet nor mmcv: the adapter class is imported
when a search builds it, and a missing extra is a one-line error then; its options' declaration
(:mod:`detectors_adapter.options`) is registered with it.
"""

from __future__ import annotations

from detectors_adapter.export import MMDET_PLACES, mmdet_snippet
from detectors_adapter.options import MMDetOptions
from gp_autoloss.fitness.base import register_lazy_adapter
from gp_autoloss.reporting.export import register_export_format

__all__: list[str] = []

# the options' declaration is light to import: a search checks them and ``--help`` lists them without the class.
# Its code options: ``config`` is a Python file that mmengine executes; ``cfg_options`` edits that config
# supports_budget: the adapter trains proxy budgets (successive halving) continuing from a state folder
register_lazy_adapter("mmdet", "detectors_adapter.fitness:MMDetFitnessAdapter", options=MMDetOptions,
                      supports_budget=True)
register_export_format("mmdet", mmdet_snippet, help="an MMDetection loss config snippet", spaces=tuple(MMDET_PLACES))
