"""gp-autoloss: discover loss functions for object detection by strongly-typed genetic programming.

>>> from gp_autoloss import parse
>>> loss = parse("-dot((1 + sin(w)) * y, log(softmax(x)))", "softmax_cls")
>>> loss.to_prefix()
'neg(dot(mul(add(1, sin(w)), y), log(softmax(x))))'
"""

from gp_autoloss.checks import CheckResult, Verdict, check
from gp_autoloss.errors import (
    ArityError,
    ConfigError,
    FormulaError,
    FormulaSyntaxError,
    FormulaTypeError,
    GpAutolossError,
    LossInputError,
    OutputPathError,
    OutputTypeError,
    SpaceError,
    UnknownNameError,
)
from gp_autoloss.generate import random_loss, random_tree
from gp_autoloss.known import KNOWN_LOSSES, initial_loss, known_loss, known_losses, register_known_loss
from gp_autoloss.loss import Loss, parse

__version__ = "0.1.0"

__all__ = [
    "KNOWN_LOSSES", "ArityError", "CheckResult", "ConfigError", "FormulaError", "FormulaSyntaxError",
    "FormulaTypeError", "GpAutolossError", "Loss", "LossInputError", "OutputPathError", "OutputTypeError",
    "SpaceError", "UnknownNameError", "Verdict", "__version__", "check", "initial_loss", "known_loss",
    "known_losses", "parse", "random_loss", "random_tree", "register_known_loss",
]  # fmt: skip
