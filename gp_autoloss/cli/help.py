"""Help texts computed from the registries when the parser is built (after plugins load), so that ``--help``
lists what a plugin registered next to the built-ins."""

from __future__ import annotations

__all__ = ["registered"]


def registered(kind: str) -> str:
    """The registered names of ``kind`` (``spaces``, ``adapters``, ``strategies``), comma-separated."""
    if kind == "spaces":
        from primitives import SPACES

        names = SPACES.names()
    elif kind == "adapters":
        from gp_autoloss.fitness.base import ADAPTERS, load_adapters

        load_adapters()
        names = ADAPTERS.names()
    elif kind == "strategies":
        from gp_autoloss.search.strategies import STRATEGIES

        names = STRATEGIES.names()
    else:
        raise ValueError(f"unknown registry kind {kind!r}")
    return ", ".join(names) or "none"
