"""Fidelities: at what cost an adapter scores a candidate.

A job's fidelity is one of

* ``verify`` -- the model-optimization simulation on D_verify (:meth:`FitnessAdapter.verify`);
* ``proxy`` -- the full proxy task (:meth:`FitnessAdapter.proxy`);
* ``proxy@N/M`` -- the proxy task trained for the fraction ``N/M`` of its schedule (a rung of successive
  halving, :mod:`gp_autoloss.search.stages.halving`), for adapters that declare
  :attr:`~gp_autoloss.fitness.FitnessAdapter.supports_budget`.

A job may carry a **state folder**: where the adapter keeps what it trained, so a later, larger budget of the
same loss and seed continues from it instead of training the first epochs again. An adapter's budgets must be
prefixes of one schedule: training ``1/9`` then continuing to ``1/3`` and then to ``1`` gives the metric the
plain proxy gives (the contract suite checks it within the adapter's stated tolerance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gp_autoloss.errors import ConfigError
from gp_autoloss.fidelity import FULL, budget_fidelity, full_proxy_equivalents, is_budget_fidelity, parse_fidelity

if TYPE_CHECKING:
    from gp_autoloss.fitness.base import FitnessAdapter
    from gp_autoloss.loss import Loss

__all__ = ["FULL", "budget_fidelity", "full_proxy_equivalents", "is_budget_fidelity", "parse_fidelity", "score"]


def score(adapter: FitnessAdapter, fidelity: str, loss: Loss, seed: int, state: str | None = None) -> float:
    """Score ``loss`` with ``adapter`` at ``fidelity``. A budget (``proxy@N/M``), or the full proxy with a state
    folder, goes to :meth:`~FitnessAdapter.proxy_budget` of an adapter that supports budgets; otherwise the plain
    :meth:`~FitnessAdapter.verify` / :meth:`~FitnessAdapter.proxy`."""
    kind, frac = parse_fidelity(fidelity)
    if kind == "verify":
        return adapter.verify(loss, seed)
    if adapter.supports_budget and (frac != FULL or state is not None):
        return adapter.proxy_budget(loss, seed, frac or FULL, state)
    if frac != FULL:
        raise ConfigError(f"adapter {adapter.name!r} cannot train part of its proxy ({fidelity}): it has no budgets")
    return adapter.proxy(loss, seed)
