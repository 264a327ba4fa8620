"""Probes and the convergence check of ``bin_seg``, registered the way the built-in spaces register theirs.

Convergence: along a curve the pixel's logit ``x`` grows while its mask ``g`` stays fixed. For a foreground
pixel (``g = 1``) the loss must not increase and its gradient must vanish at large logits (a confident, right
prediction stops pulling); for a background pixel (``g = 0``) the loss must not decrease. The check itself is
the core's :func:`~gp_autoloss.checks.curve_check`, which reads these curves.
"""

from __future__ import annotations

import numpy as np
import torch

from gp_autoloss.checks import (
    Curves,
    ProbeSet,
    build_probe_set,
    curve_check,
    register_convergence_check,
    register_probes,
)
from gpa_segmentation.space import SPACE
from primitives import SearchSpace

__all__ = ["LOGIT_GRID", "SCORES", "seg_probes"]

#: the logit along every curve (up to 15: float64 still resolves 1 - sigmoid there)
SCORES = np.array([-15, -10, -6, -4, -2, -1, -0.5, 0, 0.5, 1, 2, 4, 6, 9, 12, 15.0])
#: the vanishing-gradient trend is read from this logit on
TAIL_FROM = 6.0
#: logits of the grid part (every one with g = 0 and g = 1), saturated ones included
LOGIT_GRID = (-50, -30, -15, -8, -3, -1, -0.25, 0, 0.25, 1, 3, 8, 15, 30, 50)
#: rows drawn from the space's input domains (what equivalence of candidates looks at)
DOMAIN_POINTS = 128
_SEED = 20240614


@register_probes(SPACE)
def seg_probes(space: SearchSpace) -> ProbeSet:
    """Realistic pixels, a logit grid with both mask values, the two curves, then a sample of the domains."""
    rng = np.random.default_rng(_SEED)
    parts: list[tuple[str, dict[str, np.ndarray]]] = []
    n = 32
    parts.append(("realistic pixels", {"x": rng.normal(0.0, 3.0, n), "g": (rng.random(n) < 0.3).astype(float)}))
    grid = np.array(np.meshgrid(LOGIT_GRID, (0.0, 1.0), indexing="ij")).reshape(2, -1)
    parts.append(("logit grid in [-50, 50], g in {0, 1}", {"x": grid[0], "g": grid[1]}))

    start = sum(len(p[1]["x"]) for p in parts)
    k = len(SCORES)
    rows, labels, direction, vanish = [], [], [], []
    for label, g, sign in (("foreground pixel (g=1): its logit", 1.0, -1), ("background pixel (g=0): its logit", 0.0, +1)):
        parts.append((label, {"x": SCORES.copy(), "g": np.full(k, g)}))
        rows.append(start + np.arange(k))
        labels.append(label)
        direction.append(sign)
        vanish.append(sign < 0)
        start += k
    curves = Curves(
        rows=np.stack(rows), params=np.tile(SCORES, (len(rows), 1)), direction=np.asarray(direction, float),
        labels=tuple(labels), param_name="logit", grad_input="x", grad_index=np.stack(rows),
        vanish=np.asarray(vanish), tail_start=int(np.searchsorted(SCORES, TAIL_FROM)),
    )  # fmt: skip

    # last, so the curves' rows stay put: the values training feeds the inputs, from their declared domains
    sample = space.sample_inputs(DOMAIN_POINTS, torch.Generator().manual_seed(_SEED))
    parts.append(("sample of the input domains", {name: t.numpy() for name, t in sample.items()}))
    return build_probe_set(space.name, parts, space.prediction_inputs, (), curves)


register_convergence_check(SPACE)(curve_check)
