"""Search spaces: the inputs, output type, primitives and constants of one loss branch.

Each space builds a DEAP ``PrimitiveSetTyped`` in which every overload of a primitive is one DEAP
primitive (``add_SV``, ``neg_V``, ...), so DEAP's generation and variation only ever make well-typed
trees. Adding a task is one registration::

    from primitives import Binary, Input, Real, Scalar, SearchSpace, register_space

    register_space(SearchSpace(
        name="my_task",
        inputs=(Input("p", Scalar, "prediction", domain=Real(), prediction=True),
                Input("t", Scalar, "target", domain=Binary())),
        output=Scalar, primitives=("add", "sub", "mul", "abs", "log"), initial_loss=None))

Each input declares its :class:`~primitives.domains.Domain` (the values training feeds it; signed reals
when left out) and whether it is a prediction (what the loss trains; every input when none is marked).
Equivalence of candidates, the checks and the probes work on these domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from deap import gp

from primitives.domains import DEFAULT_DOMAIN, LOGITS, Binary, BoxArea, Domain, Draw, IoU, IoUWeight, OneHot
from primitives.library import PAPER_PRIMITIVES, REGRESSION_PRIMITIVES
from primitives.primitive import PRIMITIVES, Primitive, Signature
from primitives.registry import Registry
from primitives.types import Scalar, ValueType, Vector
from primitives.validation import check_space

__all__ = ["Input", "SearchSpace", "Overload", "SPACES", "register_space", "get_space", "REDUCTIONS"]

TypeTag = type[ValueType]

#: how a space's unreduced output becomes one value per sample
REDUCTIONS = ("none", "sum_classes")


@dataclass(frozen=True)
class Input:
    """A variable input of a space (``x``, ``y``, ``w``, ``i``, ...).

    Attributes:
        name: the name formulas use.
        type: :class:`~primitives.types.Scalar` or :class:`~primitives.types.Vector`.
        doc: one line for help texts.
        domain: the values training feeds this input (default: signed reals, typical and large magnitudes).
        prediction: whether the input is (derived from) the model's prediction, i.e. what the loss trains.
    """

    name: str
    type: TypeTag
    doc: str = ""
    domain: Domain = DEFAULT_DOMAIN
    prediction: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.domain, Domain):
            raise TypeError(f"input {self.name!r}: domain must be a primitives.Domain, not {type(self.domain).__name__}")


@dataclass(frozen=True)
class Overload:
    """One DEAP primitive of a space: a primitive with one of its signatures."""

    primitive: Primitive
    signature: Signature

    @property
    def deap_name(self) -> str:
        return self.primitive.deap_name(self.signature)


@dataclass(frozen=True, eq=False)
class SearchSpace:
    """A typed search space for one loss branch.

    Attributes:
        name: registry key (``softmax_cls``, ``sigmoid_cls``, ``iou_reg``).
        inputs: the variable inputs, in call order.
        output: type of the loss value (per sample, or per element for element-wise spaces).
        primitives: names of the registered primitives this space uses.
        constants: constant terminals (the paper: 1, 2, 3).
        reduction: ``"none"`` if the output is already one value per sample, ``"sum_classes"`` if the
            per-element output is summed over classes to get it.
        initial_loss: name of the known loss the evolution starts from (L_I), if any; without one, a search of
            the space needs an initial loss given (``--initial FORMULA`` or a known loss name).
        description: one line for help texts.
    """

    name: str
    inputs: tuple[Input, ...]
    output: TypeTag
    primitives: tuple[str, ...]
    constants: tuple[int, ...] = (1, 2, 3)
    reduction: str = "none"
    initial_loss: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"space {self.name!r}: reduction must be one of {REDUCTIONS}")
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"space {self.name!r}: duplicate input names {names}")
        for prim_name in self.primitives:
            prim = PRIMITIVES.get(prim_name)
            if not any(self._fits(sig) for sig in prim.signatures):
                raise ValueError(f"space {self.name!r}: primitive {prim_name!r} has no signature over its types")
        for k, inp in enumerate(self.inputs):
            missing = [r for r in inp.domain.requires if r not in names[:k]]
            if missing:
                raise ValueError(f"space {self.name!r}: the domain of input {inp.name!r} depends on {missing}; "
                                 f"declare those inputs before {inp.name!r}")

    # ---- domains --------------------------------------------------------------------------------------
    @property
    def prediction_inputs(self) -> tuple[str, ...]:
        """Names of the inputs that carry the prediction (every input when the space marks none)."""
        marked = tuple(i.name for i in self.inputs if i.prediction)
        return marked or tuple(i.name for i in self.inputs)

    def input_shape(self, inp: Input, n: int, classes: int) -> tuple[int, ...]:
        """Shape of ``n`` samples of an input: vectors ``(n, classes)``, scalars ``(n,)``."""
        return (n, classes) if inp.type is Vector else (n,)

    def sample_inputs(self, n: int, generator: torch.Generator, classes: int = 5) -> dict[str, torch.Tensor]:
        """``n`` joint samples of every input from its domain, float64, in input order.

        Vectors are ``(n, classes)``; scalars ``(n,)`` (a compiled loss gives them the class dimension), so in
        an element-wise space each sample is one element.
        """
        draw = Draw(generator)
        for inp in self.inputs:
            draw.values[inp.name] = inp.domain.draw(self.input_shape(inp, n, classes), draw)
        return dict(draw.values)

    # ---- types ----------------------------------------------------------------------------------------
    @cached_property
    def types(self) -> frozenset[TypeTag]:
        """The value types that exist in this space."""
        found: set[TypeTag] = {i.type for i in self.inputs}
        if self.constants:
            found.add(Scalar)
        return frozenset(found)

    @property
    def has_vectors(self) -> bool:
        """Whether values per class exist (then scalars carry a trailing singleton dimension)."""
        return Vector in self.types

    def _fits(self, sig: Signature) -> bool:
        return all(t in self.types for t in sig.args) and sig.result in self.types

    @cached_property
    def input_map(self) -> dict[str, Input]:
        """Inputs by name."""
        return {i.name: i for i in self.inputs}

    @cached_property
    def primitive_map(self) -> dict[str, Primitive]:
        """This space's primitives by formula name."""
        return {name: PRIMITIVES.get(name) for name in self.primitives}

    @cached_property
    def overloads(self) -> dict[str, Overload]:
        """Every DEAP primitive of the space, keyed by its DEAP name."""
        out: dict[str, Overload] = {}
        for prim in self.primitive_map.values():
            for sig in prim.signatures:
                if self._fits(sig):
                    ov = Overload(prim, sig)
                    out[ov.deap_name] = ov
        return out

    def resolve(self, name: str, arg_types: tuple[TypeTag, ...]) -> Overload | None:
        """The overload of primitive ``name`` for ``arg_types`` in this space, or ``None``."""
        prim = self.primitive_map.get(name)
        if prim is None:
            return None
        sig = prim.resolve(arg_types)
        if sig is None or not self._fits(sig):
            return None
        return self.overloads[prim.deap_name(sig)]

    def signatures_of(self, name: str) -> list[Signature]:
        """The overloads of primitive ``name`` usable in this space."""
        prim = self.primitive_map[name]
        return [s for s in prim.signatures if self._fits(s)]

    # ---- DEAP -----------------------------------------------------------------------------------------
    @cached_property
    def pset(self) -> gp.PrimitiveSetTyped:
        """The DEAP typed primitive set of this space (built once)."""
        pset = gp.PrimitiveSetTyped(self.name, [i.type for i in self.inputs], self.output, prefix="ARG")
        pset.renameArguments(**{f"ARG{k}": inp.name for k, inp in enumerate(self.inputs)})
        for ov in self.overloads.values():
            pset.addPrimitive(ov.primitive.fn, list(ov.signature.args), ov.signature.result, name=ov.deap_name)
        for c in self.constants:
            pset.addTerminal(c, Scalar)
        return pset

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r})"


SPACES: Registry[SearchSpace] = Registry("space")


def register_space(space: SearchSpace, *, replace: bool = False) -> SearchSpace:
    """Add a space to :data:`SPACES`, after :func:`~primitives.validation.check_space` (names that clash,
    inputs that are not formula names, constants that are not finite numbers >= 0)."""
    check_space(space, PRIMITIVES.names())
    return SPACES.add(space.name, space, replace=replace)


def get_space(space: str | SearchSpace) -> SearchSpace:
    """A space by name (or the space itself)."""
    if isinstance(space, SearchSpace):
        return space
    return SPACES.get(space)


register_space(
    SearchSpace(
        name="softmax_cls",
        inputs=(
            Input("x", Vector, "logits over C classes incl. background (B x C)", domain=LOGITS, prediction=True),
            Input("y", Vector, "one-hot target (B x C), background last", domain=OneHot()),
            Input("w", Scalar, "IoU of the decoded prediction with its target for positives, 1 for negatives",
                  domain=IoUWeight(target="y")),
        ),
        output=Scalar,
        primitives=PAPER_PRIMITIVES,
        reduction="none",
        initial_loss="cei",
        description="two-stage (softmax) classification branch; loss per sample",
    )
)

register_space(
    SearchSpace(
        name="sigmoid_cls",
        inputs=(
            Input("x", Scalar, "logit of one (sample, class) element", domain=LOGITS, prediction=True),
            Input("y", Scalar, "binary target of that element", domain=Binary()),
            # the sample's IoU on every class of a positive sample, 1 on a negative sample's classes
            Input("w", Scalar, "IoU of the sample's prediction for positives, 1 for negatives", domain=IoU()),
        ),
        output=Scalar,
        primitives=tuple(p for p in PAPER_PRIMITIVES if p not in ("softmax", "dot")),
        reduction="sum_classes",
        initial_loss="fli",
        description="one-stage (sigmoid) classification branch; loss per element, summed over classes",
    )
)

register_space(
    SearchSpace(
        name="iou_reg",
        inputs=(
            # all three derive from the predicted box
            Input("i", Scalar, "intersection area of predicted and target box", domain=BoxArea("intersection"),
                  prediction=True),
            Input("u", Scalar, "union area", domain=BoxArea("union"), prediction=True),
            Input("e", Scalar, "area of the smallest enclosing box", domain=BoxArea("enclosing"), prediction=True),
        ),
        output=Scalar,
        primitives=REGRESSION_PRIMITIVES,
        reduction="none",
        initial_loss="giou",
        description="box regression branch from intersection, union and enclosing area; loss per box",
    )
)
