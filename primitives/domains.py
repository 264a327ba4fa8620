"""Input domains: the values each input of a search space takes in training.

Equivalence of candidates, the checks and the probes look at a loss only where training will run it, so
every :class:`~primitives.spaces.Input` carries a :class:`Domain` that draws samples of its values. Losses
that differ only outside the domain (``x`` and ``abs(x)`` for positive inputs, ``y / y`` and ``1`` for
non-zero targets) are the same loss there; losses that differ inside it (signed logits, targets of 0) are not.

A domain implements ``sample(shape, generator)``; one whose values depend on inputs drawn before it (the IoU
weight is 1 for background samples) or that is drawn jointly with others (``i``, ``u``, ``e`` of one box pair)
overrides :meth:`Domain.draw`, which sees the :class:`Draw` in progress. A plugin adds a task's domains by
subclassing :class:`Domain`, and may register them by name in :data:`DOMAINS`::

    @dataclass(frozen=True)
    class Mask(Domain):
        description = "binary per-pixel mask"

        def sample(self, shape, generator):
            return (torch.rand(shape, generator=generator, dtype=torch.float64) < 0.5).double()

    Input("g", Scalar, "ground-truth mask", domain=Mask())

Every draw is float64 and a function of the generator's state only (reproducible fingerprints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from primitives.registry import Registry

__all__ = [
    "BOX_PARTS", "DOMAINS", "Binary", "BoxArea", "Domain", "Draw", "IoU", "IoUWeight", "OneHot", "Real",
    "box_pair_areas", "sample_box_pairs",
]  # fmt: skip

DTYPE = torch.float64


@dataclass
class Draw:
    """One joint draw of a space's inputs, in the space's input order.

    Attributes:
        generator: the source of randomness of the whole draw.
        values: the inputs drawn so far, by name.
        shared: what domains drawn jointly keep for each other (e.g. the box pairs behind ``i``, ``u``, ``e``).
    """

    generator: torch.Generator
    values: dict[str, torch.Tensor] = field(default_factory=dict)
    shared: dict[Any, Any] = field(default_factory=dict)


class Domain:
    """The set of values an input takes, and a way to draw samples of it.

    Subclasses are frozen dataclasses (hashable, comparable, printable) and implement :meth:`sample`, or
    :meth:`draw` when their values depend on other inputs (named in :attr:`requires`, drawn first).
    """

    #: one line for help texts and messages
    description: ClassVar[str] = "values of an input"
    #: inputs this domain's values depend on; the space checks they come earlier in its input order
    requires: tuple[str, ...] = ()

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """A float64 tensor of ``shape`` with values of the domain."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample() or draw()")

    def draw(self, shape: tuple[int, ...], draw: Draw) -> torch.Tensor:
        """This input's values within a joint draw (default: :meth:`sample`, independent of the others)."""
        return self.sample(shape, draw.generator)


def _uniform(shape: tuple[int, ...], g: torch.Generator, low: float, high: float) -> torch.Tensor:
    return torch.rand(shape, generator=g, dtype=DTYPE) * (high - low) + low


@dataclass(frozen=True)
class Real(Domain):
    """Signed reals at every scale a model produces: logits, or any input a space does not describe.

    Each sample (a row of a vector input) gets a scale, log-uniform in ``[small, large]``: from an untrained
    head's near-zero outputs to a confident one's, and with probability ``shifted`` a common offset uniform in
    ``[-large, large]`` (a row of logits biased together, like a prior). Its values are ``N(offset, scale^2)``
    clipped to ``[-bound, bound]``; independently, a value is uniform over ``[-bound, bound]`` with probability
    ``wide`` (the large magnitudes of a saturated classifier) and exactly 0 with probability ``zero``.
    """

    small: float = 0.01
    large: float = 20.0
    bound: float = 60.0
    shifted: float = 0.3
    wide: float = 0.2
    zero: float = 0.05
    description: ClassVar[str] = "signed reals (near 0 to large magnitudes)"

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        rows = shape[:-1] + (1,) if len(shape) > 1 else shape
        scale = torch.exp(_uniform(rows, generator, math.log(self.small), math.log(self.large)))
        offset = _uniform(rows, generator, -self.large, self.large)
        offset = torch.where(torch.rand(rows, generator=generator, dtype=DTYPE) < self.shifted, offset, 0.0)
        normal = torch.randn(shape, generator=generator, dtype=DTYPE) * scale + offset
        pick = torch.rand(shape, generator=generator, dtype=DTYPE)
        wide = _uniform(shape, generator, -self.bound, self.bound)
        out = torch.where(pick < self.wide, wide, normal.clamp(-self.bound, self.bound))
        return torch.where(pick >= 1.0 - self.zero, torch.zeros_like(out), out)


#: the domain of an input that declares none
DEFAULT_DOMAIN = Real()
#: logits: signed, never exactly 0 more often than float rounding makes them
LOGITS = Real(zero=0.0)


@dataclass(frozen=True)
class Binary(Domain):
    """Binary targets: 1 with probability ``p``, else 0."""

    p: float = 0.3
    description: ClassVar[str] = "binary targets {0, 1}"

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(shape, generator=generator, dtype=DTYPE) < self.p).to(DTYPE)


@dataclass(frozen=True)
class OneHot(Domain):
    """One-hot targets over the last dimension (the class), each class equally likely."""

    description: ClassVar[str] = "one-hot targets over the classes"

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        classes = shape[-1] if shape else 1
        label = torch.randint(0, classes, shape[:-1], generator=generator)
        return torch.nn.functional.one_hot(label, classes).to(DTYPE)


@dataclass(frozen=True)
class IoU(Domain):
    """IoU weights in ``[floor, 1]``: uniform, plus point masses at ``floor`` (the authors clamp IoUs at 1e-7)
    and at 1 (a perfect box, a negative sample's weight, or a head that passes no IoU)."""

    floor: float = 1e-7
    p_floor: float = 0.05
    p_one: float = 0.25
    description: ClassVar[str] = "IoU weights in (0, 1]"

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        pick = torch.rand(shape, generator=generator, dtype=DTYPE)
        out = _uniform(shape, generator, self.floor, 1.0)
        out = torch.where(pick < self.p_floor, torch.full_like(out, self.floor), out)
        return torch.where(pick >= 1.0 - self.p_one, torch.ones_like(out), out)


@dataclass(frozen=True)
class IoUWeight(IoU):
    """IoU weights of positive samples and exactly 1 for negatives (background), as two-stage heads feed ``w``.

    ``target`` names the one-hot target input whose last class is the background.
    """

    target: str = "y"
    description: ClassVar[str] = "IoU weights in (0, 1] for positives, 1 for background samples"

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.target,)

    def draw(self, shape: tuple[int, ...], draw: Draw) -> torch.Tensor:
        iou = self.sample(shape, draw.generator)
        background = draw.values[self.target][..., -1]
        return torch.where(background.reshape(shape) > 0, torch.ones_like(iou), iou)


#: the parts of a box pair that :class:`BoxArea` can be
BOX_PARTS = ("intersection", "union", "enclosing")


def sample_box_pairs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` (predicted, target) box pairs ``(x1, y1, x2, y2)`` in pixels, float32 as detector heads hold them.

    Targets from a tenth of a pixel to 2,000 pixels a side; predictions: a fifth identical to their target, a
    tenth nested in or around it, a tenth disjoint, a twentieth touching it side by side, a twentieth collapsed
    to a sliver (an untrained regressor's), the rest perturbed.
    """
    g = generator
    size = torch.exp(_uniform((n, 2), g, math.log(0.1), math.log(2000.0)))
    centre = _uniform((n, 2), g, 0.0, 4000.0)
    target = torch.cat([centre - size / 2, centre + size / 2], dim=1)
    pick = torch.rand(n, generator=g, dtype=DTYPE).unsqueeze(1)
    shift = torch.randn((n, 2), generator=g, dtype=DTYPE) * 0.3 * size
    scale = torch.exp(torch.randn((n, 2), generator=g, dtype=DTYPE) * 0.4)
    perturbed = torch.cat([centre + shift - size * scale / 2, centre + shift + size * scale / 2], dim=1)
    f = torch.where(torch.rand((n, 1), generator=g, dtype=DTYPE) < 0.5, 1.0, -1.0)
    nested_size = size * torch.exp(f * _uniform((n, 1), g, 0.05, 1.5))
    nested = torch.cat([centre - nested_size / 2, centre + nested_size / 2], dim=1)
    away = size * _uniform((n, 2), g, 1.05, 4.0) * torch.where(torch.rand((n, 2), generator=g) < 0.5, 1.0, -1.0)
    disjoint = target + away.repeat(1, 2)
    touching = target + torch.stack([size[:, 0], torch.zeros(n, dtype=DTYPE)], 1).repeat(1, 2)
    pred = torch.where(pick < 0.2, target, perturbed)
    pred = torch.where((pick >= 0.2) & (pick < 0.3), nested, pred)
    pred = torch.where((pick >= 0.3) & (pick < 0.4), disjoint, pred)
    pred = torch.where((pick >= 0.4) & (pick < 0.45), touching, pred)
    sliver = size * torch.exp(_uniform((n, 2), g, math.log(1e-4), math.log(0.1)))
    collapsed = torch.cat([centre + shift - sliver / 2, centre + shift + sliver / 2], dim=1)
    pred = torch.where((pick >= 0.45) & (pick < 0.5), collapsed, pred)
    return pred.float(), target.float()


def box_pair_areas(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> dict[str, torch.Tensor]:
    """Intersection, union + eps and enclosing area + eps of box pairs, computed in the boxes' precision
    as the authors' heads do (so at perfect overlap of a box over a pixel large, union == intersection)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area_p = (pred[:, 2:] - pred[:, :2]).prod(dim=1)
    area_t = (target[:, 2:] - target[:, :2]).prod(dim=1)
    union = area_p + area_t - inter + eps
    enclosing = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).prod(dim=1)
    return {"intersection": inter.to(DTYPE), "union": union.to(DTYPE), "enclosing": (enclosing + eps).to(DTYPE)}


@dataclass(frozen=True)
class BoxArea(Domain):
    """One area of a (predicted, target) box pair in pixels: ``0 <= intersection <= union <= enclosing``, up to
    float32 rounding (the areas are computed in float32 as in training, where ``u`` can pass ``e`` by an ulp).

    The inputs of one space whose domains are ``BoxArea`` parts share their box pairs within a draw.
    """

    part: str
    eps: float = 1e-7
    description: ClassVar[str] = "areas of a predicted and a target box (0 <= i <= u <= e, pixels)"

    def __post_init__(self) -> None:
        if self.part not in BOX_PARTS:
            raise ValueError(f"BoxArea part must be one of {BOX_PARTS}, not {self.part!r}")

    def draw(self, shape: tuple[int, ...], draw: Draw) -> torch.Tensor:
        key = (BoxArea, self.eps, shape)
        areas = draw.shared.get(key)
        if areas is None:
            n = 1
            for d in shape:
                n *= d
            areas = draw.shared[key] = box_pair_areas(*sample_box_pairs(n, draw.generator), eps=self.eps)
        return areas[self.part].reshape(shape)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return self.draw(shape, Draw(generator))


#: domains by name, for configs and plugins (a plugin adds its own with ``DOMAINS.add(name, domain)``)
DOMAINS: Registry[Domain] = Registry("domain")
for _name, _domain in (("real", DEFAULT_DOMAIN), ("logits", LOGITS), ("binary", Binary()), ("one_hot", OneHot()),
                       ("iou", IoU()), ("iou_weight", IoUWeight()), ("box_intersection", BoxArea("intersection")),
                       ("box_union", BoxArea("union")), ("box_enclosing", BoxArea("enclosing"))):  # fmt: skip
    DOMAINS.add(_name, _domain)
