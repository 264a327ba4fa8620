"""A test plugin: a user's space with declared domains and no convergence check, scored by the faulty adapter.

Imported by the search (``plugins=["tests.unchecked_space_plugin"]``) in the driver and in every worker.
"""

from __future__ import annotations

import tests.fault_plugin  # noqa: F401  (registers the "faulty" adapter)
from primitives import SPACES, Binary, Input, Real, Scalar, SearchSpace, register_space

SPACE = "unchecked_t"

if SPACE not in SPACES:
    register_space(SearchSpace(
        name=SPACE, output=Scalar, primitives=("add", "sub", "mul", "div", "log", "relu", "neg"),
        inputs=(Input("p", Scalar, "a prediction", domain=Real(), prediction=True),
                Input("t", Scalar, "a binary target", domain=Binary())),
        description="a space without a convergence check (tests)",
    ))  # fmt: skip
