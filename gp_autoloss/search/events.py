"""What a running search tells its observers: one :class:`GenerationEvent` after the initial loss and after
every generation it finishes.

The engine knows nothing about who listens (the live HTML report, a progress display, a test); the driver
subscribes::

    engine.subscribe(lambda event: print(event.generation, event.stats.get("best_metric")))

A subscriber runs in the search's process between generations; what it raises stops the search, so one that
must never do so (the live report) catches its own errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EventBus", "GenerationEvent", "Subscriber"]


@dataclass(frozen=True)
class GenerationEvent:
    """A generation is finished and committed to the run file.

    Attributes:
        run_dir: the run's directory.
        generation: the generation number; ``-1`` for the initial loss L_I.
        stats: the generation's funnel counts and best loss as stored (empty for the initial loss).
    """

    run_dir: Path
    generation: int
    stats: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[GenerationEvent], None]


class EventBus:
    """Subscribers called in subscription order with each event."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` after each generation; returns a function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback`` (no error if it was not subscribed)."""
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def emit(self, event: GenerationEvent) -> None:
        """Call every subscriber with ``event``."""
        for callback in list(self._subscribers):
            callback(event)
