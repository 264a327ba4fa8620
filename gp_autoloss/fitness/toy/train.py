"""Training loops of the ``toy`` adapter: a small MLP head trained with the candidate loss by SGD.

Each head feeds the candidate exactly the inputs a detector head does (see the space definitions) and
reduces its unreduced output the way the corresponding mmdet head does:

* ``softmax_cls`` (two-stage RoI head): mean over the sampled RoIs;
* ``sigmoid_cls`` (one-stage head): per-element loss times ``alpha_t = 0.25 y + 0.75 (1 - y)``, summed,
  divided by the number of positives;
* ``iou_reg``: mean over the boxes of the loss of decoded predictions vs. targets (pixel units).

A candidate that raises, or whose loss or weights become NaN/inf, raises :class:`CandidateFailed`. A loss
that does not depend on the predictions leaves the head untrained (its metric is the untrained one's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from gp_autoloss.fitness.base import CandidateFailed
from gp_autoloss.fitness.toy.data import ClsData, RegData, decode_deltas
from gp_autoloss.fitness.toy.metrics import box_iou_terms, coco_ap, mean_recall_over_thresholds

__all__ = ["MLP", "Resumable", "TrainSettings", "TrainState", "train_regression", "train_sigmoid", "train_softmax"]

LossModule = Callable[..., torch.Tensor]

#: RetinaNet/FCOS classification bias prior (initial foreground probability 0.01)
_PRIOR_BIAS = -math.log((1 - 0.01) / 0.01)


@dataclass(frozen=True)
class TrainSettings:
    """One training run: how many SGD steps on which batch size, and the optimizer settings."""

    steps: int
    batch_size: int  # 0 or >= len(data): full batch
    lr: float
    momentum: float
    weight_decay: float
    grad_clip: float | None
    warmup: float  # fraction of the steps with a linear warm-up from lr / 10
    hidden: int


@dataclass
class TrainState:
    """Where a training run stands after ``step`` steps of its schedule: the weights, the momentum buffers and the
    generator that draws the mini-batches -- all a later call needs to train on exactly as one long run would."""

    step: int
    params: list[torch.Tensor]
    bufs: list[torch.Tensor]
    rng: torch.Tensor

    def to_dict(self) -> dict[str, object]:
        return {"step": self.step, "params": self.params, "bufs": self.bufs, "rng": self.rng}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TrainState:
        return cls(int(data["step"]), list(data["params"]), list(data["bufs"]), data["rng"])  # type: ignore[arg-type]


@dataclass
class Resumable:
    """Train only the steps ``[start, stop)`` of the schedule: ``start`` is the step of the state ``load`` returns
    (0 when it returns ``None``); the state after ``stop`` goes to ``save``. The learning-rate schedule stays the
    whole run's (``TrainSettings.steps``), so the steps are those of one long run."""

    stop: int
    load: Callable[[], TrainState | None] = field(default=lambda: None)
    save: Callable[[TrainState], None] = field(default=lambda state: None)


class MLP:
    """``D -> hidden -> ReLU -> out`` with explicit tensors (no ``nn.Module`` overhead), seeded init."""

    def __init__(
        self, d_in: int, hidden: int, d_out: int, g: torch.Generator, *, out_std: float, out_bias: float
    ) -> None:
        self.w1 = (torch.randn(d_in, hidden, generator=g) * math.sqrt(2.0 / d_in)).requires_grad_()
        self.b1 = torch.zeros(hidden, requires_grad=True)
        self.w2 = (torch.randn(hidden, d_out, generator=g) * out_std).requires_grad_()
        self.b2 = torch.full((d_out,), out_bias, requires_grad=True)

    @property
    def params(self) -> list[torch.Tensor]:
        """The trainable tensors."""
        return [self.w1, self.b1, self.w2, self.b2]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.w1 + self.b1) @ self.w2 + self.b2

    def finite(self) -> bool:
        """Whether every weight is finite."""
        return all(bool(torch.isfinite(p).all()) for p in self.params)


def _sgd(
    model: MLP,
    settings: TrainSettings,
    n: int,
    g: torch.Generator,
    step_loss: Callable[[torch.Tensor], torch.Tensor],
    resume: Resumable | None = None,
) -> None:
    """SGD with momentum and weight decay (``torch.optim.SGD``'s update, written out: the optimizer's first
    use imports ``torch._dynamo``, seconds per worker process), gradient-norm clipping and linear warm-up.

    ``step_loss(indices)`` returns the reduced loss of one mini-batch. ``resume``: train only part of the schedule,
    continuing from a saved state (see :class:`Resumable`).
    """
    params = model.params
    bufs = [torch.zeros_like(p) for p in params]
    full = settings.batch_size <= 0 or settings.batch_size >= n
    all_idx = torch.arange(n)
    warm = max(int(settings.steps * settings.warmup), 1)
    start, stop = 0, settings.steps
    if resume is not None:
        stop = min(resume.stop, settings.steps)
        saved = resume.load()
        if saved is not None and saved.step <= stop:
            with torch.no_grad():
                for p, v in zip(params, saved.params):
                    p.copy_(v)
                for b, v in zip(bufs, saved.bufs):
                    b.copy_(v)
            g.set_state(saved.rng)
            start = saved.step
    for step in range(start, stop):
        idx = all_idx if full else torch.randint(0, n, (settings.batch_size,), generator=g)
        try:
            loss = step_loss(idx)
        except CandidateFailed:
            raise
        except Exception as exc:  # the candidate itself failed
            raise CandidateFailed(_short(f"loss raised {type(exc).__name__}: {exc}")) from exc
        value = float(loss.detach())
        if not math.isfinite(value):
            raise CandidateFailed(f"training loss is {value} at step {step}")
        if not loss.requires_grad:  # the loss ignores the predictions: nothing to learn
            continue
        try:
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        except Exception as exc:
            raise CandidateFailed(_short(f"backward raised {type(exc).__name__}: {exc}")) from exc
        grads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip(params, grads)]
        norm = float(torch.sqrt(sum((gr * gr).sum() for gr in grads)))
        if not math.isfinite(norm):
            raise CandidateFailed(f"gradient is {norm} at step {step}")
        scale = 1.0
        if settings.grad_clip is not None and norm > settings.grad_clip:
            scale = settings.grad_clip / (norm + 1e-6)
        lr = settings.lr * (0.1 + 0.9 * min(1.0, (step + 1) / warm))
        with torch.no_grad():
            for p, gr, buf in zip(params, grads, bufs):
                d = gr * scale + settings.weight_decay * p
                buf.mul_(settings.momentum).add_(d)
                p.sub_(lr * buf)
    if not model.finite():
        raise CandidateFailed("weights diverged to NaN/inf")
    if resume is not None and stop > start:
        resume.save(TrainState(stop, [p.detach().clone() for p in params], [b.clone() for b in bufs], g.get_state()))


# ---- heads --------------------------------------------------------------------------------------------
def train_softmax(
    loss_fn: LossModule, train: ClsData, test: ClsData, settings: TrainSettings, g: torch.Generator,
    resume: Resumable | None = None,
) -> float:
    """Two-stage RoI classifier over C+1 classes (background last); returns COCO AP on ``test``."""
    c = train.num_classes
    model = MLP(train.feats.shape[1], settings.hidden, c + 1, g, out_std=0.01, out_bias=0.0)
    onehot = torch.nn.functional.one_hot(train.labels, c + 1).float()
    w = torch.where(train.labels < c, train.iou, torch.ones_like(train.iou))

    def step_loss(idx: torch.Tensor) -> torch.Tensor:
        per = loss_fn(x=model(train.feats[idx]), y=onehot[idx], w=w[idx])
        return per.mean()

    _sgd(model, settings, len(train), g, step_loss, resume)
    with torch.no_grad():
        probs = torch.softmax(model(test.feats), dim=1)[:, :c]
    return _ap(probs, test)


def train_sigmoid(
    loss_fn: LossModule, train: ClsData, test: ClsData, settings: TrainSettings, g: torch.Generator,
    resume: Resumable | None = None,
) -> float:
    """One-stage per-class sigmoid classifier with focal-loss alpha and normalization by positives."""
    c = train.num_classes
    model = MLP(train.feats.shape[1], settings.hidden, c, g, out_std=0.01, out_bias=_PRIOR_BIAS)
    target = torch.nn.functional.one_hot(train.labels, c + 1)[:, :c].float()
    w = torch.where(train.labels < c, train.iou, torch.ones_like(train.iou)).unsqueeze(1)
    alpha = 0.25 * target + 0.75 * (1 - target)
    positive = train.positive

    def step_loss(idx: torch.Tensor) -> torch.Tensor:
        per = loss_fn(x=model(train.feats[idx]), y=target[idx], w=w[idx])
        num_pos = max(int(positive[idx].sum()), 1)
        return (per * alpha[idx]).sum() / num_pos

    _sgd(model, settings, len(train), g, step_loss, resume)
    with torch.no_grad():
        probs = torch.sigmoid(model(test.feats))
    return _ap(probs, test)


def train_regression(
    loss_fn: LossModule, train: RegData, test: RegData, settings: TrainSettings, g: torch.Generator,
    resume: Resumable | None = None,
) -> float:
    """Box regressor predicting normalized deltas; returns the mean over IoU thresholds of the hit rate."""
    model = MLP(train.feats.shape[1], settings.hidden, 4, g, out_std=0.0, out_bias=0.0)

    def step_loss(idx: torch.Tensor) -> torch.Tensor:
        boxes = decode_deltas(train.proposals[idx], model(train.feats[idx]))
        i, u, e = box_iou_terms(boxes, train.targets[idx])
        return loss_fn(i=i, u=u, e=e).mean()

    _sgd(model, settings, len(train), g, step_loss, resume)
    with torch.no_grad():
        boxes = decode_deltas(test.proposals, model(test.feats))
        i, u, _ = box_iou_terms(boxes, test.targets)
    return mean_recall_over_thresholds(i / u)


def _ap(probs: torch.Tensor, test: ClsData) -> float:
    if not bool(torch.isfinite(probs).all()):
        raise CandidateFailed("predictions are NaN/inf after training")
    return coco_ap(probs, test.labels, test.iou, test.group)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
