"""Seeded randomness: one ``random.Random`` per run, lent to DEAP (which uses the global module)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["lend_global_random", "state_to_json", "state_from_json"]


@contextmanager
def lend_global_random(rng: random.Random) -> Iterator[None]:
    """Run DEAP's operators (which call the global ``random``) on ``rng``'s stream.

    The global state is saved and restored, and ``rng`` advances exactly as far as the operators drew.
    """
    saved = random.getstate()
    random.setstate(rng.getstate())
    try:
        yield
    finally:
        rng.setstate(random.getstate())
        random.setstate(saved)


def state_to_json(state: tuple[Any, ...]) -> list[Any]:
    """``random.Random.getstate()`` as JSON-able lists."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def state_from_json(data: list[Any]) -> tuple[Any, ...]:
    """Inverse of :func:`state_to_json`."""
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
