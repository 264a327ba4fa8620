"""Re-evaluate the losses searches found on held-out seeds: the paper's Table 5 "AP" column at small scale.

A search's best proxy metric is the maximum over every loss it evaluated, each scored once under the
search's seed. The more losses a strategy evaluates, the further that maximum sits above what its loss
scores when trained again (the winner's curse), so comparing search-time maxima favours the strategy that
spends the most evaluations. The paper compares the found losses by training them again (full COCO);
here each found loss is scored by the same adapter's proxy task under seeds no search used, and strategies
are compared seed by seed (paired), on the same held-out seeds.

    from benchmarks.holdout import HoldoutScorer, paired_difference
    scorer = HoldoutScorer("toy", "softmax_cls", {}, holdout_seeds(8))
    scores = scorer.score(prefix)            # one metric per held-out seed (None: the candidate failed)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

__all__ = ["HOLDOUT_BASE", "HoldoutScorer", "holdout_seeds", "mean_or_none", "paired_difference"]

#: held-out seeds start here; search seeds are small integers and adapters derive their evaluation seeds
#: from them (the engine uses ``seed * 1000 + 17``), so these never coincide with a search's
HOLDOUT_BASE = 7_000_003


def holdout_seeds(n: int) -> list[int]:
    """``n`` evaluation seeds that no search of the benchmark uses."""
    return [HOLDOUT_BASE + 1009 * k for k in range(n)]


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the scores, a failed evaluation (``None``) counting as 0; ``None`` for no scores."""
    if not values:
        return None
    return statistics.fmean(0.0 if v is None else v for v in values)


class HoldoutScorer:
    """Scores losses with an adapter's proxy task on held-out seeds; each loss is trained once per seed."""

    def __init__(self, adapter: str, space: str, options: dict[str, Any], seeds: Sequence[int]) -> None:
        from gp_autoloss.fitness import create_adapter
        from gp_autoloss.loss import resolve_space

        self.space = resolve_space(space)
        self.seeds = list(seeds)
        self._adapter = create_adapter(adapter, space, **options)
        self._cache: dict[str, list[float | None]] = {}

    def score(self, prefix: str) -> list[float | None]:
        """The proxy metric of the loss (prefix form) under every held-out seed; ``None`` where it failed."""
        from gp_autoloss.fitness.base import CandidateFailed
        from gp_autoloss.loss import parse

        loss = parse(prefix, self.space)
        if loss.key not in self._cache:
            out: list[float | None] = []
            for seed in self.seeds:
                try:
                    value = float(self._adapter.proxy(loss, seed))
                except CandidateFailed:
                    value = None
                out.append(value if value is None or math.isfinite(value) else None)
            self._cache[loss.key] = out
        return list(self._cache[loss.key])

    def close(self) -> None:
        """Release the adapter."""
        self._adapter.close()


def paired_difference(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, standard deviation and standard error of ``ours - theirs`` over paired values (same seeds)."""
    diffs = [a - b for a, b in zip(ours, theirs, strict=True)]
    if not diffs:
        return {"mean": None, "std": None, "se": None, "n": 0}
    std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    return {"mean": statistics.fmean(diffs), "std": std, "se": std / math.sqrt(len(diffs)), "n": len(diffs)}
