"""The search: strategies composed of stages, variation, dedup, storage and the engine that runs Algorithm 1.

Nothing here imports :mod:`gp_autoloss.reporting`: the engine emits :class:`GenerationEvent` s and a driver
(the CLI's live report) subscribes.
"""

from gp_autoloss.search.config import SearchConfig, load_config_file
from gp_autoloss.search.engine import SearchEngine
from gp_autoloss.search.events import GenerationEvent
from gp_autoloss.search.records import Candidate, CandidateState, StageResult
from gp_autoloss.search.stages import SEARCH_STAGES, Counter, Need, Selector, Stage, StageRun, register_stage
from gp_autoloss.search.storage import RunStorage, StorageError
from gp_autoloss.search.strategies import STRATEGIES, SearchStrategy, register_strategy
from gp_autoloss.search.summary import SearchSummary

__all__ = ["Candidate", "CandidateState", "Counter", "GenerationEvent", "Need", "RunStorage", "SEARCH_STAGES",
           "STRATEGIES", "SearchConfig", "SearchEngine", "SearchStrategy", "SearchSummary", "Selector", "Stage",
           "StageResult", "StageRun", "StorageError", "load_config_file", "register_stage",
           "register_strategy"]  # fmt: skip
