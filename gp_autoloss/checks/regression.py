"""Probe batch and distance-loss consistency check of the regression space ``iou_reg``.

Inputs come from real box pairs in pixel units, computed the way a float32 detector head computes them
(the authors' ``tools/get_loss.py``): ``i`` the overlap area, ``u = area_p + area_t - i + 1e-7``,
``e = enclosing area + 1e-7``, all in float32, then widened exactly to float64. So at perfect overlap of
a box larger than a pixel, ``u == i`` and ``e == u`` exactly, as in training.

The gradient is checked with respect to ``i``, ``u`` and ``e`` themselves rather than box coordinates:
every box parameterisation's gradient is a bounded combination of these, so finite dL/d(i, u, e) means a
finite box gradient, and the check is stricter where it matters -- at disjoint boxes di/dbox = 0 hides an
infinite dL/di from a coordinate gradient in float64, while float32 training computes inf * 0 = NaN.

Distance-loss consistency: predicted boxes move away from a target box along curves (translations in
four directions, scaling up and down, aspect changes at constant area) for four target boxes from 3x2
to 1200x900 pixels; along each the loss must never decrease (small relative tolerance), and it must be
higher at the far end than at perfect overlap. IoU loss, flat once the boxes are disjoint, passes.
"""

from __future__ import annotations

import numpy as np

from gp_autoloss.checks.convergence import curve_check, register_convergence_check
from gp_autoloss.checks.probes import Curves, ProbeSet, build_probe_set, domain_part, register_probes
from primitives import SearchSpace

__all__ = ["EPS", "SCALES", "TARGET_BOXES", "TRANSLATIONS", "iou_inputs", "regression_probes"]

#: the authors' epsilon on union and enclosing area
EPS = 1e-7
#: target boxes (x1, y1, x2, y2) in pixels: square, wide, tiny, huge
TARGET_BOXES = ((320, 240, 420, 340), (320, 240, 520, 290), (320, 240, 323, 242), (100, 80, 1300, 980))
#: translation distances in box widths/heights (1 = just disjoint along an axis)
TRANSLATIONS = np.array([0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0, 1.5, 3.0])
#: scale factors (up; down uses their inverses; aspect changes scale width by f and height by 1/f)
SCALES = np.array([1, 1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0])
#: curve boxes are snapped to multiples of 1/64 px, so their float32 corners and sizes are exact
GRID = 64.0
#: float32 inputs round areas to ~6e-8 relative; monotonicity is read with this relative tolerance
RTOL = 1e-6
#: rows drawn from the space's input domains (the fingerprint's distribution), after the hand-made ones
DOMAIN_POINTS = 128
_SEED = 20210102


def iou_inputs(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """``i``, ``u``, ``e`` of box pairs ``(N, 4)`` (x1, y1, x2, y2), in float32 as a detector head computes."""
    p = np.asarray(pred, dtype=np.float32)
    t = np.asarray(target, dtype=np.float32)
    zero, eps = np.float32(0), np.float32(EPS)
    iw = np.maximum(np.minimum(p[:, 2], t[:, 2]) - np.maximum(p[:, 0], t[:, 0]), zero)
    ih = np.maximum(np.minimum(p[:, 3], t[:, 3]) - np.maximum(p[:, 1], t[:, 1]), zero)
    i = iw * ih
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_t = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    u = area_p + area_t - i + eps
    ew = np.maximum(p[:, 2], t[:, 2]) - np.minimum(p[:, 0], t[:, 0])
    eh = np.maximum(p[:, 3], t[:, 3]) - np.minimum(p[:, 1], t[:, 1])
    e = ew * eh + eps
    return {"i": i.astype(np.float64), "u": u.astype(np.float64), "e": e.astype(np.float64)}


def _boxes(cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray, snap: bool = False) -> np.ndarray:
    if snap:  # corner and size on the 1/64 grid: exact in float32, and a translated box keeps its size
        w, h = np.round(w * GRID) / GRID, np.round(h * GRID) / GRID
        x1, y1 = np.round((cx - w / 2) * GRID) / GRID, np.round((cy - h / 2) * GRID) / GRID
        return np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _curves_for(target: tuple[int, ...]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, predicted boxes (K, 4), parameter (K,)) for every curve away from ``target``."""
    x1, y1, x2, y2 = (float(v) for v in target)
    w, h, cx, cy = x2 - x1, y2 - y1, (x1 + x2) / 2, (y1 + y2) / 2
    size = f"{w:g}x{h:g} target"
    ones = np.ones_like(TRANSLATIONS)
    out = []
    # i, u and e depend on |dx| and |dy| only, so left/down mirror right/up: four distinct directions
    for name, dx, dy in (("right", 1.0, 0.0), ("up", 0.0, 1.0), ("diagonally", 1.0, 1.0), ("right 1, up 0.4", 1.0, 0.4)):
        boxes = _boxes(cx + TRANSLATIONS * w * dx, cy + TRANSLATIONS * h * dy, w * ones, h * ones, True)
        out.append((f"translation {name} by t box sizes, {size}", boxes, TRANSLATIONS))
    out.append((f"scaling up by f, {size}", _boxes(cx * ones, cy * ones, w * SCALES, h * SCALES, True), SCALES))
    out.append((f"scaling down by 1/f, {size}", _boxes(cx * ones, cy * ones, w / SCALES, h / SCALES, True), SCALES))
    out.append((f"aspect: width*f, height/f, {size}", _boxes(cx * ones, cy * ones, w * SCALES, h / SCALES, True), SCALES))
    out.append((f"aspect: width/f, height*f, {size}", _boxes(cx * ones, cy * ones, w / SCALES, h * SCALES, True), SCALES))
    return out


def _pairs(rows: list[tuple[tuple[float, ...], tuple[float, ...]]]) -> dict[str, np.ndarray]:
    pred = np.array([r[0] for r in rows], dtype=np.float64)
    target = np.array([r[1] for r in rows], dtype=np.float64)
    return iou_inputs(pred, target)


def _realistic(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(_SEED)
    w, h = rng.uniform(8, 400, n), rng.uniform(8, 400, n)
    cx, cy = rng.uniform(200, 800, n), rng.uniform(200, 600, n)
    target = _boxes(cx, cy, w, h)
    pred = _boxes(cx + rng.normal(0, 0.25, n) * w, cy + rng.normal(0, 0.25, n) * h,
                  w * np.exp(rng.normal(0, 0.3, n)), h * np.exp(rng.normal(0, 0.3, n)))  # fmt: skip
    return iou_inputs(pred, target)


_T = (320.0, 240.0, 420.0, 340.0)
_EXTREME_PARTS: tuple[tuple[str, list[tuple[tuple[float, ...], tuple[float, ...]]]], ...] = (
    ("disjoint boxes (i=0)", [((430, 240, 530, 340), _T), ((5000, 5000, 5100, 5100), _T),
                              ((0, 0, 8000, 8000), (9000, 9000, 9001, 9001)), ((20000, 20000, 20001, 20001), _T)]),
    ("touching boxes (i=0, e=u)", [((420, 240, 520, 340), _T), ((320, 340, 420, 440), _T),
                                   ((320.5, 240, 320.75, 240.25), (320, 240, 320.5, 240.25))]),
    ("perfect overlap", [(_T, _T), ((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.5)), ((0, 0, 3, 2), (0, 0, 3, 2)),
                         ((0, 0, 8000, 6000), (0, 0, 8000, 6000)), ((10, 10, 10.01, 10.01), (10, 10, 10.01, 10.01))]),
    ("tiny boxes", [((10, 10, 10.01, 10.01), (10.005, 10, 10.015, 10.01)), ((10, 10, 10.2, 10.3), (10.1, 10.1, 10.4, 10.4)),
                    ((10, 10, 10.01, 10.01), (500, 500, 500.01, 500.01))]),
    ("huge boxes", [((0, 0, 8000, 8000), (100, 100, 8100, 7900)), ((0, 0, 8000, 8000), (4000, 4000, 12000, 12000))]),
    ("nested boxes", [((100, 100, 100.5, 100.5), (0, 0, 8000, 8000)), ((0, 0, 8000, 8000), (100, 100, 100.5, 100.5)),
                      ((330, 250, 410, 330), _T), ((300, 220, 440, 360), _T)]),
    ("zero-area prediction", [((350, 250, 350, 300), _T), ((350, 250, 350, 250), _T), ((600, 600, 600, 600), _T)]),
)  # fmt: skip


@register_probes("iou_reg")
def regression_probes(space: SearchSpace) -> ProbeSet:
    """Box-pair probes: realistic, disjoint, touching, identical, tiny, huge, nested; then the curves."""
    parts: list[tuple[str, dict[str, np.ndarray]]] = [("realistic box pairs", _realistic(32))]
    parts += [(label, _pairs(rows)) for label, rows in _EXTREME_PARTS]
    start = sum(len(p[1]["i"]) for p in parts)
    rows, params, labels = [], [], []
    for target in TARGET_BOXES:
        for label, boxes, param in _curves_for(target):
            arrays = iou_inputs(boxes, np.tile(np.asarray(target, float), (len(boxes), 1)))
            parts.append((label, arrays))
            rows.append(start + np.arange(len(boxes)))
            params.append(param)
            labels.append(label)
            start += len(boxes)
    curves = Curves(
        rows=np.stack(rows), params=np.stack(params), direction=np.ones(len(rows)), labels=tuple(labels),
        param_name="distance parameter", rtol=RTOL,
    )
    parts.append(domain_part(space, DOMAIN_POINTS, _SEED))  # after the curves: their rows stay put
    return build_probe_set(space.name, parts, space.prediction_inputs, (), curves)


register_convergence_check("iou_reg")(curve_check)
