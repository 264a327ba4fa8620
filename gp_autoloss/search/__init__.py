"""The search: strategies, variation, dedup, storage and the engine that runs Algorithm 1."""

from gp_autoloss.search.config import SearchConfig, load_config_file
from gp_autoloss.search.engine import SearchEngine, SearchSummary
from gp_autoloss.search.storage import RunStorage, StorageError
from gp_autoloss.search.strategies import STRATEGIES, SearchStrategy, register_strategy

__all__ = ["RunStorage", "STRATEGIES", "SearchConfig", "SearchEngine", "SearchStrategy", "SearchSummary",
           "StorageError", "load_config_file", "register_strategy"]  # fmt: skip
