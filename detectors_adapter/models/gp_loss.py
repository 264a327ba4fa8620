"""``GPLoss``: any gp-autoloss formula as an MMDetection loss module.

Paste one line into an mmdet config (plus ``custom_imports=dict(imports=['detectors_adapter.models'])``)::

    loss_cls=dict(type='GPLoss', formula='-dot((1 + sin(w)) * y, log(softmax(x)))', space='softmax_cls')
    loss_bbox=dict(type='GPLoss', formula='cse_a_reg', loss_weight=10.0)

``formula`` is infix/prefix text or the name of a known loss (``ce``, ``fl``, ``giou``, ...); ``space`` may be
left out when the formula is a known name or parses in exactly one space. The module follows mmdet's loss
signature ``forward(pred, target, weight=None, avg_factor=None, reduction_override=None)`` and reduces with
mmdet's ``weight_reduce_loss``. How the space's inputs are made from what a head passes:

* ``softmax_cls``: ``pred`` logits ``(B, C+1)`` with background last; ``target`` labels ``(B,)`` in ``[0, C]``
  (``C`` = background) or a ``(B, C+1)`` one-hot; keyword ``iou`` ``(B,)`` gives ``w`` for positive samples,
  negatives always get ``w = 1``; without ``iou``, ``w = 1`` everywhere. Per-sample loss ``(B,)``.
* ``sigmoid_cls``: ``pred`` logits ``(B, C)``; ``target`` labels ``(B,)`` with ``C`` = background, or a
  ``(B, C)`` binary matrix; ``w`` as above, one value per sample broadcast over classes. The formula's
  element-wise loss is multiplied by ``alpha_t = alpha*y + (1-alpha)*(1-y)`` (``alpha=0.25`` by default,
  ``alpha=None`` for none), as the authors' heads and mmdet's ``FocalLoss`` do. Loss ``(B, C)``.
* ``iou_reg``: ``pred`` and ``target`` decoded boxes ``(N, 4)`` as ``(x1, y1, x2, y2)`` in pixels; the module
  computes ``i`` (overlap), ``u = area_p + area_t - i + eps`` and ``e = enclosing area + eps`` (``eps=1e-7``),
  like mmdet's ``GIoULoss``. A ``(N, 4)`` weight is averaged to ``(N,)``. Loss ``(N,)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor, nn

from gp_autoloss.errors import ConfigError, FormulaError, SpaceError
from gp_autoloss.known import KNOWN_LOSSES
from gp_autoloss.loss import Loss, parse
from primitives import SPACES

__all__ = ["SUPPORTED_SPACES", "GPLoss", "box_terms", "check_branch", "load_formula", "with_branch_space"]

#: the spaces whose inputs GPLoss knows how to build from mmdet head outputs
SUPPORTED_SPACES = ("softmax_cls", "sigmoid_cls", "iou_reg")
_REDUCTIONS = (None, "none", "mean", "sum")


def load_formula(formula: str, space: str | None = None) -> Loss:
    """A :class:`Loss` from a known-loss name or formula text; ``space`` is inferred when left out.

    Raises :class:`ConfigError` (one line) when the formula is not a loss of ``space``.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ConfigError("GPLoss: formula must be a non-empty string")
    text = formula.strip()
    if space is not None and space not in SPACES:
        raise ConfigError(f"GPLoss: unknown space {space!r} (known: {', '.join(SUPPORTED_SPACES)})")
    if text in KNOWN_LOSSES:
        known = KNOWN_LOSSES.get(text)
        if space is not None and space != known.space:
            raise ConfigError(f"GPLoss: known loss {text!r} is a {known.space} loss, not a {space} loss")
        text, space = known.formula, known.space
    if space is None:
        fits = []
        for name in SUPPORTED_SPACES:
            try:
                fits.append(parse(text, name))
            except FormulaError:
                continue
        if len(fits) != 1:
            found = ", ".join(f.space.name for f in fits) or "none"
            raise ConfigError(f"GPLoss: give space= for formula {formula!r} (spaces it parses in: {found})")
        return fits[0]
    try:
        return parse(text, space)
    except (FormulaError, SpaceError) as exc:
        raise ConfigError(f"GPLoss: formula {formula!r} is not a {space} loss: {exc}") from None


def box_terms(pred: Tensor, target: Tensor, eps: float = 1e-7) -> tuple[Tensor, Tensor, Tensor]:
    """Intersection ``i``, union ``u`` (+eps) and enclosing area ``e`` (+eps) of aligned ``(N, 4)`` boxes."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = area_p + area_t - inter + eps
    enc_wh = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).clamp(min=0)
    enclose = enc_wh[:, 0] * enc_wh[:, 1] + eps
    return inter, union, enclose


@MODELS.register_module()
class GPLoss(nn.Module):
    """A gp-autoloss formula as an mmdet loss (see the module docstring for the inputs of each space).

    Args:
        formula: formula text (infix or DEAP prefix) or a known loss name.
        space: ``softmax_cls``, ``sigmoid_cls`` or ``iou_reg``; inferred when left out and unambiguous.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        loss_weight: factor on the reduced loss.
        alpha: ``sigmoid_cls`` only: focal alpha applied after the formula (``None`` or negative: none).
        use_sigmoid: accepted for compatibility with heads that read it from the config; must agree with
            the space (``True`` only for ``sigmoid_cls``).
        eps: ``iou_reg`` only: added to the union and enclosing areas.
    """

    def __init__(self, formula: str, space: str | None = None, reduction: str = "mean", loss_weight: float = 1.0,
                 alpha: float | None = 0.25, use_sigmoid: bool | None = None, eps: float = 1e-7) -> None:
        super().__init__()
        self.loss = load_formula(formula, space)
        self.space = self.loss.space.name
        if self.space not in SUPPORTED_SPACES:
            raise ConfigError(f"GPLoss: space {self.space!r} is not a detection branch ({', '.join(SUPPORTED_SPACES)})")
        if reduction not in ("none", "mean", "sum"):
            raise ConfigError(f"GPLoss: reduction must be 'none', 'mean' or 'sum', not {reduction!r}")
        if use_sigmoid is not None and bool(use_sigmoid) != (self.space == "sigmoid_cls"):
            raise ConfigError(f"GPLoss: use_sigmoid={use_sigmoid} contradicts space {self.space!r}")
        self.formula = self.loss.infix
        self.reduction = reduction
        self.loss_weight = float(loss_weight)
        self.alpha = alpha if (alpha is not None and alpha >= 0 and self.space == "sigmoid_cls") else None
        self.use_sigmoid = self.space == "sigmoid_cls"
        self.eps = eps
        self.fn = self.loss.to_torch()

    def extra_repr(self) -> str:
        return f"space={self.space}, formula={self.formula!r}, loss_weight={self.loss_weight}"

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None, avg_factor: float | None = None,
                reduction_override: str | None = None, iou: Tensor | None = None, **kwargs: Any) -> Tensor:
        """The weighted, reduced loss (see the module docstring for ``pred``, ``target`` and ``iou``)."""
        if reduction_override not in _REDUCTIONS:
            raise ValueError(f"reduction_override must be one of {_REDUCTIONS}")
        reduction = reduction_override or self.reduction
        if self.space == "iou_reg":
            if weight is not None and not torch.any(weight > 0):
                if pred.dim() == weight.dim() + 1:
                    weight = weight.unsqueeze(1)
                return (pred * weight).sum()  # zero that keeps the graph, as mmdet's IoU losses
            if weight is not None and weight.dim() > 1:
                weight = weight.mean(-1)
            loss = self._regression(pred, target)
        elif pred.numel() == 0:
            return pred.sum() * 0.0
        elif self.space == "softmax_cls":
            loss, weight = self._softmax(pred, target, weight, iou)
        else:
            loss, weight = self._sigmoid(pred, target, weight, iou)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor)

    # ---- input builders ----------------------------------------------------------------------------------
    def _labels(self, pred: Tensor, target: Tensor, n_cols: int, bg: int,
                weight: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """One-hot ``y`` (n_cols wide), a positive mask and the weight with invalid labels zeroed."""
        if target.dim() == pred.dim():  # already one-hot / binary
            y = target.to(pred.dtype)
            return y, y[:, :bg].sum(-1) > 0, weight
        labels = target.long()
        valid = (labels >= 0) & (labels <= bg)
        y = F.one_hot(labels.clamp(0, bg), bg + 1)[:, :n_cols].to(pred.dtype)
        if not bool(valid.all()):
            y = y * valid.unsqueeze(-1)
            mask = valid.to(pred.dtype)
            weight = mask if weight is None else weight.to(pred.dtype) * mask
        return y, valid & (labels < bg), weight

    @staticmethod
    def _w(pred: Tensor, pos: Tensor, iou: Tensor | None) -> Tensor:
        w = pred.new_ones(pred.size(0))
        if iou is not None:
            w = torch.where(pos, iou.detach().to(pred.dtype).reshape(-1), w)
        return w

    def _softmax(self, pred: Tensor, target: Tensor, weight: Tensor | None,
                 iou: Tensor | None) -> tuple[Tensor, Tensor | None]:
        bg = pred.size(-1) - 1
        y, pos, weight = self._labels(pred, target, bg + 1, bg, weight)
        loss = self.fn(x=pred, y=y, w=self._w(pred, pos, iou))
        return loss, (weight.float() if weight is not None else None)

    def _sigmoid(self, pred: Tensor, target: Tensor, weight: Tensor | None,
                 iou: Tensor | None) -> tuple[Tensor, Tensor | None]:
        n_cls = pred.size(-1)
        y, pos, weight = self._labels(pred, target, n_cls, n_cls, weight)
        loss = self.fn(x=pred, y=y, w=self._w(pred, pos, iou).unsqueeze(-1))
        if self.alpha is not None:
            loss = loss * (self.alpha * y + (1.0 - self.alpha) * (1.0 - y))
        if weight is not None and weight.shape != loss.shape:
            weight = weight.reshape(loss.size(0), -1)
        return loss, weight

    def _regression(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.numel() == 0:
            return pred.sum(-1)
        i, u, e = box_terms(pred.float(), target.float(), self.eps)
        return self.fn(i=i, u=u, e=e)


# ---- helpers for heads ---------------------------------------------------------------------------------------
def with_branch_space(cfg: Any, space: str, where: str) -> Any:
    """A copy of a loss config in which a ``GPLoss`` gets the branch's ``space`` (other losses unchanged).

    A ``GPLoss`` that names another space, or a known loss of another space, raises :class:`ConfigError`.
    """
    if cfg is None or not hasattr(cfg, "get") or cfg.get("type") not in ("GPLoss", GPLoss):
        return cfg
    cfg = cfg.copy()
    formula = cfg.get("formula")
    given = cfg.get("space")
    if given is None and isinstance(formula, str) and formula.strip() in KNOWN_LOSSES:
        given = KNOWN_LOSSES.get(formula.strip()).space
    if given is not None and given != space:
        raise ConfigError(f"{where} needs a {space} loss, but GPLoss formula {formula!r} is a {given} loss")
    cfg["space"] = space
    if space == "sigmoid_cls":
        cfg.setdefault("use_sigmoid", True)
    return cfg


def check_branch(loss: nn.Module, space: str, where: str) -> None:
    """Raise :class:`ConfigError` when ``loss`` is a ``GPLoss`` of a space other than ``space``."""
    if isinstance(loss, GPLoss) and loss.space != space:
        raise ConfigError(f"{where} needs a {space} loss, but GPLoss formula {loss.formula!r} is a {loss.space} loss")
