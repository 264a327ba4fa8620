"""Search strategies behind one interface: ``random``, ``vanilla`` and ``cse`` (Algorithm 1)."""

from gp_autoloss.search.strategies.base import STRATEGIES, SearchStrategy, register_strategy
from gp_autoloss.search.strategies.builtin import CseStrategy, RandomStrategy, VanillaStrategy

__all__ = ["STRATEGIES", "SearchStrategy", "register_strategy", "RandomStrategy", "VanillaStrategy", "CseStrategy"]
