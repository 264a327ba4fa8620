"""The 21 primitive operators of CSE-Autoloss, defined as in the authors' released code.

* ``log(a) = ln(a + 1e-20)``, ``div(a, b) = a / (b + 1e-20)``, ``exp(a) = exp(min(a, 88))``;
* ``sqrt`` is plain (NaN below 0 -- the validness check rejects such candidates);
* the S-curves ``gd``, ``alf``, ``erf``, ``erfc`` are rescaled to sigmoid's range (0, 1) *and* its slope
  1/4 at 0; ``tanh`` is plain;
* ``softmax`` runs over the class dimension; ``dot`` sums the element-wise product over classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from primitives.primitive import BINARY, DOT, UNARY, UNARY_VECTOR, primitive

__all__ = ["LOG_EPS", "DIV_EPS", "EXP_MAX", "PAPER_PRIMITIVES", "REGRESSION_PRIMITIVES"]

LOG_EPS = 1e-20
DIV_EPS = 1e-20
EXP_MAX = 88.0

_ERF_SCALE = math.sqrt(math.pi) / 4.0
_GD_SCALE = math.pi / 4.0


# ---- binary -------------------------------------------------------------------------------------------
@primitive("add", BINARY, infix="+", precedence=10, doc="a + b", commutative=True)
def _add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a + b


@primitive("sub", BINARY, infix="-", precedence=10, doc="a - b")
def _sub(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a - b


@primitive("mul", BINARY, infix="*", precedence=20, doc="a * b", commutative=True)
def _mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a * b


@primitive("div", BINARY, infix="/", precedence=20, doc="a / (b + 1e-20)")
def _div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a / (b + DIV_EPS)


@primitive("dot", DOT, doc="sum over classes of a * b", commutative=True)
def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=-1, keepdim=True)


# ---- unary --------------------------------------------------------------------------------------------
@primitive("neg", UNARY, infix="-", precedence=30, doc="-a")
def _neg(a: torch.Tensor) -> torch.Tensor:
    return -a


@primitive("exp", UNARY, doc="exp(min(a, 88))")
def _exp(a: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.clamp(a, max=EXP_MAX))


@primitive("log", UNARY, doc="ln(a + 1e-20)")
def _log(a: torch.Tensor) -> torch.Tensor:
    return torch.log(a + LOG_EPS)


@primitive("abs", UNARY, doc="|a|")
def _abs(a: torch.Tensor) -> torch.Tensor:
    return torch.abs(a)


@primitive("sqrt", UNARY, doc="sqrt(a) (NaN below 0)")
def _sqrt(a: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(a)


@primitive("softmax", UNARY_VECTOR, doc="softmax over classes")
def _softmax(a: torch.Tensor) -> torch.Tensor:
    return torch.softmax(a, dim=-1)


@primitive("softplus", UNARY, doc="ln(1 + e^a)")
def _softplus(a: torch.Tensor) -> torch.Tensor:
    return F.softplus(a)


@primitive("sigmoid", UNARY, doc="1 / (1 + e^-a)")
def _sigmoid(a: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(a)


@primitive("gd", UNARY, doc="Gudermannian, rescaled to (0, 1), slope 1/4 at 0")
def _gd(a: torch.Tensor) -> torch.Tensor:
    raw = 2.0 * torch.atan(torch.tanh(_GD_SCALE * a / 2.0))
    return (raw * (2.0 / math.pi) + 1.0) / 2.0


@primitive("alf", UNARY, doc="algebraic x/sqrt(1+x^2), rescaled to (0, 1), slope 1/4 at 0")
def _alf(a: torch.Tensor) -> torch.Tensor:
    h = a / 2.0
    return (h / torch.sqrt(1.0 + h * h) + 1.0) / 2.0


@primitive("erf", UNARY, doc="error function, rescaled to (0, 1), slope 1/4 at 0")
def _erf(a: torch.Tensor) -> torch.Tensor:
    return (torch.erf(_ERF_SCALE * a) + 1.0) / 2.0


@primitive("erfc", UNARY, doc="1 - erf(a) with the rescaled erf")
def _erfc(a: torch.Tensor) -> torch.Tensor:
    return torch.erfc(_ERF_SCALE * a) / 2.0


@primitive("tanh", UNARY, doc="tanh(a)")
def _tanh(a: torch.Tensor) -> torch.Tensor:
    return torch.tanh(a)


@primitive("relu", UNARY, doc="max(a, 0)")
def _relu(a: torch.Tensor) -> torch.Tensor:
    return torch.relu(a)


@primitive("sin", UNARY, doc="sin(a)")
def _sin(a: torch.Tensor) -> torch.Tensor:
    return torch.sin(a)


@primitive("cos", UNARY, doc="cos(a)")
def _cos(a: torch.Tensor) -> torch.Tensor:
    return torch.cos(a)


#: the paper's 21 operators
PAPER_PRIMITIVES: tuple[str, ...] = (
    "neg", "exp", "log", "abs", "sqrt", "softmax", "softplus", "sigmoid", "gd", "alf", "erf", "erfc",
    "tanh", "relu", "sin", "cos", "add", "sub", "mul", "div", "dot",
)  # fmt: skip

#: the authors' smaller regression set
REGRESSION_PRIMITIVES: tuple[str, ...] = (
    "add", "sub", "mul", "div", "neg", "log", "exp", "abs", "sqrt", "softplus", "sigmoid", "tanh",
    "relu", "sin", "cos",
)  # fmt: skip
