"""Known losses: the hand-designed ones and the paper's searched ones, as formulas of the spaces.

Defined with the authors' primitive definitions, so these are the paper's losses. Register more with
:func:`register_known_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gp_autoloss.errors import ConfigError, GpAutolossError
from gp_autoloss.loss import Loss, parse, resolve_space
from primitives import Registry, SearchSpace
from primitives.validation import RegistrationError, check_registry_name

__all__ = ["KnownLoss", "KNOWN_LOSSES", "register_known_loss", "known_losses", "known_loss", "initial_loss",
           "resolve_initial"]


@dataclass(frozen=True)
class KnownLoss:
    """A named formula of a space."""

    name: str
    space: str
    formula: str
    doc: str = ""

    def load(self) -> Loss:
        """Parse the formula."""
        return parse(self.formula, self.space)


KNOWN_LOSSES: Registry[KnownLoss] = Registry("known loss")


def register_known_loss(name: str, space: str, formula: str, doc: str = "") -> KnownLoss:
    """Add a named formula to :data:`KNOWN_LOSSES`; the formula is parsed now, so a typo fails here, at
    registration (register the space and its primitives first)."""
    check_registry_name(name, "known loss")
    entry = KnownLoss(name, space, formula, doc)
    try:
        entry.load()
    except GpAutolossError as exc:
        raise RegistrationError(f"known loss {name!r} does not parse in space {space!r}: {exc}") from None
    return KNOWN_LOSSES.add(name, entry)


def known_losses() -> dict[str, Loss]:
    """Every known loss, parsed: name -> :class:`Loss`."""
    return {name: entry.load() for name, entry in KNOWN_LOSSES.items()}


def known_loss(name: str) -> Loss:
    """One known loss by name."""
    return KNOWN_LOSSES.get(name).load()


def initial_loss(space: str | SearchSpace) -> Loss:
    """The initial loss L_I the evolution of ``space`` starts from (the space's ``initial_loss``).

    Raises :class:`~gp_autoloss.errors.ConfigError` naming the fix when the space has none or names a loss
    that is not registered.
    """
    sp = resolve_space(space)
    if sp.initial_loss is None:
        raise ConfigError(
            f"space {sp.name!r} has no initial loss: pass --initial FORMULA (or a known loss name), or register the "
            "space with initial_loss='NAME' of a known loss"
        )
    entry = KNOWN_LOSSES.get(sp.initial_loss) if sp.initial_loss in KNOWN_LOSSES else None
    if entry is None:
        raise ConfigError(
            f"space {sp.name!r} starts from initial loss {sp.initial_loss!r}, which is not a known loss: register it "
            f"with register_known_loss({sp.initial_loss!r}, {sp.name!r}, FORMULA), or pass --initial FORMULA"
        )
    return _known_in(entry, sp)


def resolve_initial(space: str | SearchSpace, text: str | None = None) -> Loss:
    """The initial loss of a search: ``text`` -- a known loss name or a formula of ``space`` -- or, when
    ``text`` is ``None``, the space's own :func:`initial_loss`."""
    sp = resolve_space(space)
    if text is None:
        return initial_loss(sp)
    name = text.strip()
    if name in KNOWN_LOSSES:
        return _known_in(KNOWN_LOSSES.get(name), sp)
    return parse(text, sp)


def _known_in(entry: KnownLoss, space: SearchSpace) -> Loss:
    if entry.space != space.name:
        raise ConfigError(f"known loss {entry.name!r} is a loss of space {entry.space!r}, not {space.name!r}")
    return entry.load()


# ---- two-stage classification (softmax over C+1 classes) -------------------------------------------------
register_known_loss("ce", "softmax_cls", "-dot(y, log(softmax(x)))", "cross-entropy")
register_known_loss("cei", "softmax_cls", "-dot(w * y, log(softmax(x)))", "cross-entropy weighted by IoU (paper eq. CEI)")
register_known_loss(
    "cse_a_cls", "softmax_cls", "-dot((1 + sin(w)) * y, log(softmax(x)))", "CSE-Autoloss-A classification (paper 4.1)"
)

# ---- one-stage classification (sigmoid, per element) -----------------------------------------------------
register_known_loss("bce", "sigmoid_cls", "-(y * log(sigmoid(x)) + (1 - y) * log(1 - sigmoid(x)))", "binary cross-entropy")
register_known_loss(
    "fl",
    "sigmoid_cls",
    "-(y * (1 - sigmoid(x)) * (1 - sigmoid(x)) * log(sigmoid(x))"
    " + (1 - y) * sigmoid(x) * sigmoid(x) * log(1 - sigmoid(x)))",
    "focal loss with gamma 2 (alpha is applied by the head)",
)
register_known_loss(
    "fli",
    "sigmoid_cls",
    "-(w * (y * (1 - sigmoid(x)) * log(sigmoid(x)) + (1 - y) * sigmoid(x) * log(1 - sigmoid(x))))",
    "focal loss (gamma 1) weighted by IoU (paper eq. FLI)",
)
register_known_loss(
    "cse_b_cls",
    "sigmoid_cls",
    "-(w * y * (1 + erf(sigmoid(1 - y))) * log(sigmoid(x))"
    " + (gd(x) - w * y) * (sigmoid(x) - w * y) * log(1 - sigmoid(x)))",
    "CSE-Autoloss-B classification (paper 4.1)",
)

# ---- regression from intersection i, union u, enclosing area e -------------------------------------------
register_known_loss("iou", "iou_reg", "1 - i / u", "IoU loss")
register_known_loss("giou", "iou_reg", "1 - i / u + (e - u) / e", "GIoU loss: 1 - (i/u - (e - u)/e)")
register_known_loss(
    "cse_a_reg", "iou_reg", "(1 - i / u) + (1 - (i + 2) / e)", "CSE-Autoloss-A regression (paper 4.1)"
)
register_known_loss(
    "cse_b_reg",
    "iou_reg",
    # The authors' tree (the paper prints its simplification, with constants 12, 15, 18 that the search does not
    # generate; a user's formula may hold them: see tests/test_formula_numbers.py).
    "-(((-(-e + (1 + i)) / -(3 + (2 + u))) + (e / e + -e / -1)) / -(-(u + i / 1) / -3 + -e))",
    "CSE-Autoloss-B regression (the authors' tree; paper 4.1 prints its simplification)",
)
