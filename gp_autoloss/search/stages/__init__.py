"""The stages a generation's candidates pass, composed by strategies: ``checks``, ``verify``, ``top_k``,
``proxy`` and any a plugin registers (:func:`register_stage`)."""

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
from gp_autoloss.search.stages.needs import AdapterCall, ProbeChecks
from gp_autoloss.search.stages.selectors import AboveParents, KeepPassing, TopDistinct

__all__ = ["AboveParents", "AdapterCall", "CHECKS", "Counter", "FunnelColumn", "KeepPassing", "Need", "PROXY",
           "ProbeChecks", "SEARCH_STAGES", "Selector", "Stage", "StageOutcome", "StageRun", "TOP_K", "TopDistinct",
           "VERIFY", "distinct_kept", "distinct_passed", "evaluation_counters", "funnel_columns", "register_stage",
           "resolve_stages"]  # fmt: skip
