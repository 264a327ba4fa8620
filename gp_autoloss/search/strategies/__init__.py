"""Search strategies behind one interface: ``random``, ``vanilla`` and ``cse`` (Algorithm 1), and ``vanilla_sh``
and ``cse_sh`` with successive halving over the proxy schedule."""

from gp_autoloss.search.strategies.base import STRATEGIES, SearchStrategy, register_strategy
from gp_autoloss.search.strategies.builtin import (
    CseHalvingStrategy,
    CseStrategy,
    RandomStrategy,
    VanillaHalvingStrategy,
    VanillaStrategy,
)

__all__ = ["STRATEGIES", "SearchStrategy", "register_strategy", "RandomStrategy", "VanillaStrategy", "CseStrategy",
           "CseHalvingStrategy", "VanillaHalvingStrategy"]
