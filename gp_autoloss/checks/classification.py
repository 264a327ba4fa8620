"""Probe batches and convergence checks of the classification spaces (``softmax_cls``, ``sigmoid_cls``).

Convergence uses the paper's binary simplification: one score varies along a curve while the others stay
at 0. The positive score's curves must fall monotonically with a vanishing gradient; a negative score's
must rise. ``softmax_cls`` (two-stage, CEI-style losses are monotone for every IoU weight) checks
positives at several w in (0, 1]; ``sigmoid_cls`` checks positives at w = 1 only, because IoU-aware
one-stage losses treat w*y as a soft target whose optimum for w < 1 sits at a finite score
(design-notes.md), and negatives at y = 0, w = 1.
"""

from __future__ import annotations

import numpy as np

from gp_autoloss.checks.convergence import curve_check, register_convergence_check
from gp_autoloss.checks.probes import Curves, ProbeSet, build_probe_set, domain_part, register_probes
from primitives import SearchSpace

__all__ = ["SCORES", "SOFTMAX_CLASSES", "SOFTMAX_POSITIVE_W", "TAIL_FROM", "sigmoid_probes", "softmax_probes"]

#: the varied score along every curve; read up to 15, where float64 still resolves 1 - sigmoid
SCORES = np.array([-15, -10, -6, -4, -2, -1, -0.5, 0, 0.5, 1, 2, 4, 6, 9, 12, 15.0])
#: the vanishing-gradient trend is read on scores >= this
TAIL_FROM = 6.0
#: classes of the softmax probes: three foreground classes and the background, last
SOFTMAX_CLASSES = 4
#: IoU weights of the softmax positive curves
SOFTMAX_POSITIVE_W = (0.2, 0.6, 1.0)
#: the smallest IoU weight (the authors clamp IoUs at 1e-7) and values near 1
W_EXTREMES = (1e-7, 0.99, 1.0)
EXTREME_LOGITS = (30.0, 50.0)
#: rows drawn from the space's input domains (the fingerprint's distribution), after the hand-made ones
DOMAIN_POINTS = 128
_SEED = 20210101


class _Curves:
    """Accumulates curve specs while the probe rows are laid out."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.grad_index: list[np.ndarray] = []
        self.direction: list[int] = []
        self.labels: list[str] = []
        self.vanish: list[bool] = []

    def add(self, start: int, label: str, direction: int, vanish: bool, columns: int = 1, column: int = 0) -> None:
        rows = start + np.arange(len(SCORES))
        self.rows.append(rows)
        self.grad_index.append(rows * columns + column)
        self.direction.append(direction)
        self.labels.append(label)
        self.vanish.append(vanish)

    def build(self, grad_input: str) -> Curves:
        m = len(self.rows)
        return Curves(
            rows=np.stack(self.rows), params=np.tile(SCORES, (m, 1)), direction=np.asarray(self.direction, float),
            labels=tuple(self.labels), param_name="score", grad_input=grad_input,
            grad_index=np.stack(self.grad_index), vanish=np.asarray(self.vanish),
            tail_start=int(np.searchsorted(SCORES, TAIL_FROM)),
        )  # fmt: skip


def _one_hot(targets: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[np.asarray(targets, dtype=np.int64)]


@register_probes("softmax_cls")
def softmax_probes(space: SearchSpace) -> ProbeSet:
    """Logits ``(B, 4)`` with the background last, one-hot targets, IoU weight ``w`` (1 for negatives)."""
    c = SOFTMAX_CLASSES
    bg = c - 1
    rng = np.random.default_rng(_SEED)
    parts: list[tuple[str, dict[str, np.ndarray]]] = []
    start = 0

    def add(label: str, x: np.ndarray, targets: np.ndarray, w: np.ndarray) -> int:
        nonlocal start
        parts.append((label, {"x": x, "y": _one_hot(targets, c), "w": np.asarray(w, float)}))
        start += len(x)
        return start - len(x)

    n = 16
    t = rng.integers(0, c, n)
    add("realistic logits", rng.normal(0.0, 2.5, (n, c)), t, np.where(t == bg, 1.0, rng.uniform(0.05, 1.0, n)))
    xs, ts, ws = [], [], []
    for v in EXTREME_LOGITS:
        for target, w in ((0, 1e-7), (0, 1.0), (bg, 1.0)):
            for pattern in ((v, -v), (-v, v), (v, v), (-v, 0.0)):
                row = np.full(c, pattern[1])
                row[target] = pattern[0]
                xs.append(row), ts.append(target), ws.append(w)
    add(f"extreme logits ±{EXTREME_LOGITS[0]:g}..±{EXTREME_LOGITS[-1]:g}", np.array(xs), np.array(ts), np.array(ws))
    base = rng.normal(0.0, 2.5, (6, c))
    add("IoU weight near 0 and 1", np.repeat(base, len(W_EXTREMES), axis=0), np.repeat(np.arange(6) % bg, len(W_EXTREMES)),
        np.tile(W_EXTREMES, 6))  # fmt: skip

    curves = _Curves()
    k = len(SCORES)

    def curve(label: str, target: int, column: int, w: float, direction: int, vanish: bool) -> None:
        x = np.zeros((k, c))
        x[:, column] = SCORES
        at = add(label, x, np.full(k, target), np.full(k, w))
        curves.add(at, label, direction, vanish, c, column)

    for w in SOFTMAX_POSITIVE_W:
        curve(f"positive score: target class 0's logit, w={w:g}", 0, 0, w, -1, True)
    for w in (SOFTMAX_POSITIVE_W[0], SOFTMAX_POSITIVE_W[-1]):
        curve(f"negative score: class 1's logit, target class 0, w={w:g}", 0, 1, w, +1, False)
    curve(f"negative score: background logit, target class 0, w={SOFTMAX_POSITIVE_W[1]:g}", 0, bg, 0.6, +1, False)
    curve("positive score: background logit, target background, w=1", bg, bg, 1.0, -1, True)
    curve("negative score: class 0's logit, target background, w=1", bg, 0, 1.0, +1, False)
    parts.append(domain_part(space, DOMAIN_POINTS, _SEED, classes=c))  # after the curves: their rows stay put
    return build_probe_set(space.name, parts, space.prediction_inputs, ("x", "y"), curves.build("x"))


@register_probes("sigmoid_cls")
def sigmoid_probes(space: SearchSpace) -> ProbeSet:
    """Per-element logit ``x``, binary target ``y`` and IoU weight ``w``, all ``(N,)``."""
    rng = np.random.default_rng(_SEED + 1)
    parts: list[tuple[str, dict[str, np.ndarray]]] = []
    start = 0

    def add(label: str, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> int:
        nonlocal start
        parts.append((label, {"x": np.asarray(x, float), "y": np.asarray(y, float), "w": np.asarray(w, float)}))
        start += len(parts[-1][1]["x"])
        return start - len(parts[-1][1]["x"])

    n = 24
    y = (rng.random(n) < 0.3).astype(float)
    add("realistic inputs", rng.normal(0.0, 3.0, n), y, np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.05, 1.0, n)))
    w_grid = W_EXTREMES[:1] + (0.5,) + W_EXTREMES[1:]
    for label, xv in (
        ("logit grid in [-15, 15]", (-15, -8, -3, -1, -0.25, 0, 0.25, 1, 3, 8, 15)),
        (f"extreme logits ±{EXTREME_LOGITS[0]:g}..±{EXTREME_LOGITS[-1]:g}", (-50, -40, -30, 30, 40, 50)),
    ):
        g = np.array(np.meshgrid(xv, (0.0, 1.0), w_grid, indexing="ij")).reshape(3, -1)
        add(label, g[0], g[1], g[2])

    curves = _Curves()
    k = len(SCORES)
    for label, target, direction in (("positive score: logit of an element with y=1, w=1", 1.0, -1),
                                      ("negative score: logit of an element with y=0, w=1", 0.0, +1)):  # fmt: skip
        at = add(label, SCORES, np.full(k, target), np.ones(k))
        curves.add(at, label, direction, direction < 0)
    parts.append(domain_part(space, DOMAIN_POINTS, _SEED + 1))
    return build_probe_set(space.name, parts, space.prediction_inputs, (), curves.build("x"))


register_convergence_check("softmax_cls")(curve_check)
register_convergence_check("sigmoid_cls")(curve_check)
