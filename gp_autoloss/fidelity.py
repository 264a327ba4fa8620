"""Fidelity names: ``verify``, ``proxy`` and the proxy budgets ``proxy@N/M`` of successive halving.

Plain text and fractions, no torch: the run file, the reports and the engine read them (the adapters' side is
:mod:`gp_autoloss.fitness.budget`).
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from gp_autoloss.errors import ConfigError

__all__ = ["FULL", "budget_fidelity", "full_proxy_equivalents", "is_budget_fidelity", "parse_fidelity",
           "proxy_budget"]

#: the whole proxy schedule
FULL = Fraction(1)


def budget_fidelity(budget: Fraction | str | float) -> str:
    """The fidelity name of the proxy trained for ``budget`` of its schedule (``proxy@1/9``; ``proxy`` for 1)."""
    frac = Fraction(budget).limit_denominator(1000)
    if not 0 < frac <= 1:
        raise ValueError(f"a proxy budget is a fraction in (0, 1], got {budget!r}")
    return "proxy" if frac == FULL else f"proxy@{frac.numerator}/{frac.denominator}"


def parse_fidelity(fidelity: str) -> tuple[str, Fraction | None]:
    """``("verify", None)``, ``("proxy", 1)`` or ``("proxy", N/M)``; a one-line :class:`ConfigError` otherwise."""
    if fidelity == "verify":
        return "verify", None
    if fidelity == "proxy":
        return "proxy", FULL
    head, sep, tail = fidelity.partition("@")
    if head == "proxy" and sep:
        try:
            frac = Fraction(tail)
        except (ValueError, ZeroDivisionError):
            frac = None
        if frac is not None and 0 < frac <= 1 and "/" in tail:
            return "proxy", frac
    raise ConfigError(f"unknown fidelity {fidelity!r}: use verify, proxy or proxy@N/M with 0 < N/M <= 1")


def is_budget_fidelity(fidelity: str) -> bool:
    """Whether ``fidelity`` is a part of the proxy schedule (``proxy@N/M``) rather than ``verify``/``proxy``."""
    kind, frac = parse_fidelity(fidelity)
    return kind == "proxy" and frac != FULL


def full_proxy_equivalents(computed: Iterable[Iterable[str]]) -> float:
    """What the proxy trainings of a run cost, in whole proxy trainings: ``computed`` holds, per candidate, the
    fidelities of its results that were computed (not taken from an equivalent). A loss's rungs continue one
    another, so a loss costs its largest budget (1/9, then 1/3, then 1 costs one proxy training, not 13/9)."""
    total = Fraction(0)
    for fidelities in computed:
        fracs = [frac for f in fidelities if (frac := proxy_budget(f)) is not None]
        if fracs:
            total += max(fracs)
    return float(total)


def proxy_budget(fidelity: str) -> Fraction | None:
    """The part of the proxy schedule a result name stands for (1 for ``proxy``, N/M for ``proxy@N/M``);
    ``None`` for ``verify`` and for a name that is no fidelity (a plugin stage's result)."""
    try:
        return parse_fidelity(fidelity)[1]
    except ConfigError:
        return None
