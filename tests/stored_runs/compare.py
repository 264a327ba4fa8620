"""Compare two canonical runs (:func:`tests.stored_runs.canonical`): exact where the search is exact, within a
stated tolerance where torch's float results depend on the CPU.

What a seeded search does is exact on any machine as long as every selection it makes has the same outcome:
the candidates it generates (keys, formulas, origins, parents), their statuses and deciding stages, which
candidates were found equivalent, the funnel counts and the RNG states. The float results of training (the
adapter's metrics, the thresholds taken from them, the numbers quoted in a rejection reason) differ in the
last digits between CPU kernels (AVX2, AVX-512, oneDNN paths); they are compared with :data:`TOLERANCE`.

A fingerprint hashes a loss's values rounded to 6 digits: a value that is 0 up to rounding (``sqrt`` of a
``-0.0`` that is ``+1e-17`` elsewhere) can land on the other side on another CPU, so fingerprints are compared
as the partition they make (which candidates are equivalent), not as hex strings.

When the discrete path differs although every float before it agrees within the tolerance, the comparison says
so in those words: a selection was decided by a difference smaller than the tolerance, i.e. the reference has a
near-tie and must be rewritten with settings that have none (``python -m tests.stored_runs --write`` refuses to
write such a reference; see :mod:`tests.stored_runs`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TOLERANCE", "Comparison", "Tolerance", "compare", "split_numbers"]


@dataclass(frozen=True)
class Tolerance:
    """Two floats agree when ``|a - b| <= abs + rel * max(|a|, |b|)`` (NaN agrees with NaN only)."""

    abs: float
    rel: float

    def allows(self, a: float, b: float) -> bool:
        """Whether ``a`` and ``b`` agree."""
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= self.abs + self.rel * max(abs(a), abs(b))

    def margin(self, value: float) -> float:
        """How far a value may move and still agree with itself (``abs + rel * |value|``)."""
        return self.abs + self.rel * abs(value)

    def __str__(self) -> str:
        return f"|a - b| <= {self.abs:g} + {self.rel:g} * max(|a|, |b|)"


#: Measured on a 2-core AMD EPYC (AVX-512) with torch 2.13.0: the stored toy runs under
#: ATEN_CPU_CAPABILITY=default, avx2 and avx512 differ by at most 0.0016 absolute and 0.0053 relative in a
#: metric; the issue's Intel AVX-512 machine differed by 0.00015 (0.24 %). The tolerance covers these with a
#: margin of more than 2x and is still far below any difference between two losses that the toy task ranks.
TOLERANCE = Tolerance(abs=1e-3, rel=5e-3)

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b")


def split_numbers(text: str) -> tuple[str, list[float]]:
    """A text with its numbers replaced by ``#`` and the numbers: ``"0.02 < 0.46"`` -> ``("# < #", [0.02, 0.46])``."""
    numbers = [float(m) for m in _NUMBER.findall(text)]
    return _NUMBER.sub("#", text), numbers


@dataclass
class Comparison:
    """The outcome of :func:`compare`: differences in exact fields and floats beyond the tolerance, and the
    largest float difference seen (where the two runs still walk the same path)."""

    tolerance: Tolerance
    exact: list[str] = field(default_factory=list)
    floats: list[str] = field(default_factory=list)
    largest: tuple[float, str] = (0.0, "")

    @property
    def same(self) -> bool:
        """No exact difference and no float beyond the tolerance."""
        return not self.exact and not self.floats

    def float_(self, where: str, now: Any, before: Any) -> None:
        """Compare two floats (or ``None``) at ``where``."""
        if now is None or before is None:
            if now is not before:
                self.exact.append(f"{where}: {now!r} here, {before!r} stored")
            return
        a, b = float(now), float(before)
        if not (math.isnan(a) or math.isnan(b)) and abs(a - b) > self.largest[0]:
            self.largest = (abs(a - b), f"{where}: {a:.6g} here, {b:.6g} stored")
        if not self.tolerance.allows(a, b):
            self.floats.append(f"{where}: {a:.6g} here, {b:.6g} stored (beyond {self.tolerance})")

    def text(self, where: str, now: str, before: str) -> None:
        """Compare two texts exactly, the numbers in them within the tolerance."""
        (shape_now, nums_now), (shape_before, nums_before) = split_numbers(now or ""), split_numbers(before or "")
        if shape_now != shape_before or len(nums_now) != len(nums_before):
            self.exact.append(f"{where}: {now!r} here, {before!r} stored")
            return
        for i, (a, b) in enumerate(zip(nums_now, nums_before)):
            self.float_(f"{where} (number {i + 1})", a, b)

    def value(self, where: str, now: Any, before: Any) -> None:
        """Compare exactly."""
        if now != before:
            self.exact.append(f"{where}: {now!r} here, {before!r} stored")

    def explain(self, limit: int = 8) -> str:
        """A readable account: what differs and what that means."""
        lines: list[str] = []
        if self.exact and not self.floats:
            lines.append("the run took another path although every float before it agrees within the tolerance "
                         f"({self.tolerance}; largest difference {self.largest[0]:.3g} at {self.largest[1] or '-'}): "
                         "either the engine changed, or a selection of the reference had a near-tie that a "
                         "float difference below the tolerance decided (rewrite it: python -m tests.stored_runs "
                         "--write refuses references with near-ties)")
        elif self.floats:
            lines.append(f"floats beyond the tolerance ({self.tolerance}): the training results changed")
        lines += [f"  {d}" for d in (self.floats + self.exact)[:limit]]
        more = len(self.floats) + len(self.exact) - limit
        if more > 0:
            lines.append(f"  ... and {more} more")
        return "\n".join(lines)


_CANDIDATE_EXACT = ("id", "key", "formula", "generation", "origin", "parents", "status", "stage")
_RESULT_EXACT = ("candidate", "stage", "ok", "cached")


def _first_divergence(now: list[dict[str, Any]], before: list[dict[str, Any]]) -> int | None:
    """The generation of the first candidate whose exact fields differ (``None``: none does)."""
    for a, b in zip(now, before):
        if any(a.get(k) != b.get(k) for k in _CANDIDATE_EXACT):
            return int(b["generation"])
    if len(now) != len(before):
        longer = now if len(now) > len(before) else before
        return int(longer[min(len(now), len(before))]["generation"])
    return None


def _compare_partitions(cmp: Comparison, now: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:
    """Equal fingerprints here exactly where they are equal in the reference (a bijection of fingerprints)."""
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for a, b in zip(now, before):
        fa, fb = a["fingerprint"], b["fingerprint"]
        if forward.setdefault(fa, fb) != fb or backward.setdefault(fb, fa) != fa:
            cmp.exact.append(f"candidate {b['id']} ({b['formula']}): its equivalence class differs (fingerprint "
                             f"{fa} here, {fb} stored; the candidates found equivalent are not the same)")


def compare(now: dict[str, Any], before: dict[str, Any], tolerance: Tolerance = TOLERANCE) -> Comparison:
    """Compare canonical run ``now`` with the reference ``before``.

    Up to the first generation where the runs part, candidates, stage results and generations are compared
    field by field (exact, or within ``tolerance`` for floats); from there on only the exact difference that
    parted them is reported (what follows a different selection is bound to differ).
    """
    cmp = Comparison(tolerance)
    cands_now, cands_before = now["candidates"], before["candidates"]
    cut = _first_divergence(cands_now, cands_before)

    def kept(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows if cut is None else [r for r in rows if r["generation"] <= cut]

    a_c, b_c = kept(cands_now), kept(cands_before)
    if len(a_c) != len(b_c):
        cmp.exact.append(f"generation {cut}: {len(a_c)} candidates up to it here, {len(b_c)} stored")
    for a, b in zip(a_c, b_c):
        where = f"candidate {b['id']} ({b['formula']})"
        for k in _CANDIDATE_EXACT:
            cmp.value(f"{where} {k}", a.get(k), b.get(k))
        cmp.text(f"{where} reason", a.get("reason", ""), b.get("reason", ""))
    _compare_partitions(cmp, a_c, b_c)

    ids = {c["id"] for c in b_c} & {c["id"] for c in a_c}
    res_now = {(r["candidate"], r["stage"]): r for r in now["results"] if r["candidate"] in ids}
    res_before = {(r["candidate"], r["stage"]): r for r in before["results"] if r["candidate"] in ids}
    for key in sorted(set(res_now) | set(res_before)):
        a, b = res_now.get(key), res_before.get(key)
        where = f"candidate {key[0]} result {key[1]!r}"
        if a is None or b is None:
            cmp.exact.append(f"{where}: {'missing here' if a is None else 'not in the reference'}")
            continue
        for k in _RESULT_EXACT:
            cmp.value(f"{where} {k}", a.get(k), b.get(k))
        cmp.float_(f"{where} metric", a.get("metric"), b.get("metric"))
        cmp.text(f"{where} reason", a.get("reason", ""), b.get("reason", ""))

    gens_now = {g["generation"]: g for g in now["generations"]}
    gens_before = {g["generation"]: g for g in before["generations"]}
    for n in sorted(set(gens_now) | set(gens_before)):
        if cut is not None and n > cut:
            break
        a, b = gens_now.get(n), gens_before.get(n)
        if a is None or b is None:
            cmp.exact.append(f"generation {n}: {'missing here' if a is None else 'not in the reference'}")
            continue
        for k in ("parents", "finished", "rng_end"):
            cmp.value(f"generation {n} {k}", a.get(k), b.get(k))
        cmp.float_(f"generation {n} threshold", a.get("threshold"), b.get("threshold"))
        stats_a, stats_b = a.get("stats", {}), b.get("stats", {})
        for k in sorted(set(stats_a) | set(stats_b)):
            x, y = stats_a.get(k), stats_b.get(k)
            if isinstance(x, float) or isinstance(y, float):
                cmp.float_(f"generation {n} stats.{k}", x, y)
            else:
                cmp.value(f"generation {n} stats.{k}", x, y)
    return cmp
