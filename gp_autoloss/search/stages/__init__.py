"""The stages a generation's candidates pass, composed by strategies: ``checks``, ``verify``, ``top_k``,
``proxy``, the successive-halving rungs ``rung_1``, ``rung_2``, ``proxy_continued`` and any a plugin registers
(:func:`register_stage`)."""

from gp_autoloss.search.stages.base import (
    SEARCH_STAGES,
    Counter,
    Need,
    Selector,
    Stage,
    StageOutcome,
    StageRun,
    register_stage,
    resolve_stages,
)
from gp_autoloss.search.stages.builtin import CHECKS, PROXY, TOP_K, VERIFY
from gp_autoloss.search.stages.counters import distinct_kept, distinct_passed, evaluation_counters
from gp_autoloss.search.stages.funnel import FunnelColumn, funnel_columns
from gp_autoloss.search.stages.halving import (
    PROXY_CONTINUED,
    RUNG_1,
    RUNG_2,
    TopFraction,
    continued_proxy_stage,
    rung_stage,
    stages_need_budgets,
)
from gp_autoloss.search.stages.needs import AdapterCall, ProbeChecks
from gp_autoloss.search.stages.selectors import AboveParents, KeepPassing, TopDistinct

__all__ = ["AboveParents", "AdapterCall", "CHECKS", "Counter", "FunnelColumn", "KeepPassing", "Need", "PROXY",
           "PROXY_CONTINUED", "ProbeChecks", "RUNG_1", "RUNG_2", "SEARCH_STAGES", "Selector", "Stage", "StageOutcome",
           "StageRun", "TOP_K", "TopDistinct", "TopFraction", "VERIFY", "continued_proxy_stage", "distinct_kept",
           "distinct_passed", "evaluation_counters", "funnel_columns", "register_stage", "resolve_stages",
           "rung_stage", "stages_need_budgets"]  # fmt: skip
