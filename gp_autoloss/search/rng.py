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


def state_from_json(data: Any, what: str = "RNG state") -> tuple[Any, ...]:
    """Inverse of :func:`state_to_json`; a damaged state (from a damaged run file) raises a one-line
    :class:`~gp_autoloss.search.storage.StorageError` naming ``what``."""
    try:
        version, internal, gauss = data
        state = (version, tuple(internal), gauss)
        random.Random().setstate(state)  # the check Python itself makes: right version, length and values
    except (TypeError, ValueError, OverflowError):
        from gp_autoloss.search.storage import StorageError

        shown = repr(data) if len(repr(data)) <= 40 else repr(data)[:37] + "..."
        raise StorageError(f"the run file is damaged: {what} is not a random-number state ({shown})") from None
    return state
