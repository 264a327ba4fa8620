"""One exception hierarchy; the CLI maps every :class:`GpAutolossError` to one line and exit code 2."""

from __future__ import annotations

__all__ = [
    "GpAutolossError",
    "SpaceError",
    "FormulaError",
    "FormulaSyntaxError",
    "UnknownNameError",
    "ArityError",
    "FormulaTypeError",
    "OutputTypeError",
    "LossInputError",
    "ConfigError",
    "OutputPathError",
]


class GpAutolossError(Exception):
    """Base class of every error gp-autoloss reports to a user."""


class SpaceError(GpAutolossError):
    """Unknown or ill-formed search space."""


class ConfigError(GpAutolossError):
    """Bad configuration value or file."""


class OutputPathError(GpAutolossError):
    """An output file or directory cannot be written."""


class LossInputError(GpAutolossError):
    """A compiled loss was called with missing, extra or ill-shaped inputs."""


class FormulaError(GpAutolossError):
    """A formula that cannot be read in a space; ``position`` is the 0-based column of the problem."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.position = position
        where = f" at column {position + 1}" if position is not None else ""
        shown = text if len(text) <= 120 else text[:117] + "..."
        super().__init__(f"{message}{where} in {shown!r}" if text else f"{message}{where}")


class FormulaSyntaxError(FormulaError):
    """Malformed text: bad character, unbalanced parenthesis, missing operand, ..."""


class UnknownNameError(FormulaError):
    """A name that is neither an input, a constant nor a primitive of the space."""


class ArityError(FormulaError):
    """A primitive called with the wrong number of arguments."""


class FormulaTypeError(FormulaError):
    """Arguments whose types match no overload of a primitive (e.g. ``dot(w, y)``)."""


class OutputTypeError(FormulaTypeError):
    """The formula's value has a type other than the space's output type."""
