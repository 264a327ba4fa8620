"""Types, primitive operators and search spaces of gp-autoloss (depends on torch and DEAP only)."""

from primitives import library as _library  # noqa: F401  (registers the paper's primitives)
from primitives.domains import (
    DOMAINS,
    Binary,
    BoxArea,
    Domain,
    Draw,
    IoU,
    IoUWeight,
    OneHot,
    Real,
)
from primitives.extend import extend_space
from primitives.library import DIV_EPS, EXP_MAX, LOG_EPS, PAPER_PRIMITIVES, REGRESSION_PRIMITIVES
from primitives.primitive import (
    BINARY,
    DOT,
    PRIMITIVES,
    UNARY,
    UNARY_VECTOR,
    Primitive,
    Signature,
    primitive,
    register_primitive,
)
from primitives.registry import Registry
from primitives.spaces import SPACES, Input, Overload, SearchSpace, get_space, register_space
from primitives.types import Scalar, ValueType, Vector
from primitives.validation import RegistrationError

__all__ = [
    "BINARY", "DIV_EPS", "DOMAINS", "DOT", "EXP_MAX", "Binary", "BoxArea", "Domain", "Draw", "Input", "IoU",
    "IoUWeight", "OneHot", "Real", "LOG_EPS", "Overload", "PAPER_PRIMITIVES", "PRIMITIVES",
    "Primitive", "REGRESSION_PRIMITIVES", "Registry", "SPACES", "Scalar", "SearchSpace", "Signature",
    "UNARY", "UNARY_VECTOR", "ValueType", "Vector", "get_space", "primitive", "register_primitive",
    "register_space", "extend_space", "RegistrationError",
]  # fmt: skip
