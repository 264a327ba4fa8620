"""A tiny name -> object registry, the extension point for primitives, spaces, adapters, ..."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["Registry", "registering_for"]

T = TypeVar("T")

#: the plugin module being imported and the core packages (innermost last); see :func:`registering_for`
_ORIGINS: list[tuple[str, tuple[str, ...]]] = []


@contextmanager
def registering_for(plugin: str, core: tuple[str, ...] = ("primitives",)) -> Iterator[None]:
    """Attribute entries registered inside the ``with`` block to ``plugin`` (see :meth:`Registry.origin`),
    except those that the module-level code of a ``core`` package registers (a core module first imported
    while the plugin loads is still the core's)."""
    _ORIGINS.append((plugin, tuple(core)))
    try:
        yield
    finally:
        _ORIGINS.pop()


def _registered_by_core(core: tuple[str, ...]) -> bool:
    """Whether the registration under way comes from a core module's top-level code: walking out of the
    registration helpers (core functions), the first module-level frame or non-core frame decides."""
    frame = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).partition(".")[0] not in core:
            return False
        if frame.f_code.co_name == "<module>":
            return True
        frame = frame.f_back
    return True


class Registry(Generic[T]):
    """Maps names to registered objects; ``register`` works as a call or a decorator.

    >>> COLORS: Registry[str] = Registry("color")
    >>> COLORS.add("red", "#f00")
    '#f00'
    >>> COLORS["red"]
    '#f00'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}

    def add(self, name: str, item: T, *, replace: bool = False) -> T:
        """Register ``item`` under ``name``; refuses to silently replace an entry."""
        if name in self._items and not replace:
            raise KeyError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        if _ORIGINS and not _registered_by_core(_ORIGINS[-1][1]):
            self._origins[name] = _ORIGINS[-1][0]
        else:
            self._origins.pop(name, None)
        return item

    def register(self, name: str | None = None, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator form: ``@REGISTRY.register("name")``."""

        def deco(item: T) -> T:
            key = name or getattr(item, "name", None) or item.__name__
            return self.add(key, item, replace=replace)

        return deco

    def remove(self, name: str) -> T:
        """Unregister ``name`` and return its entry."""
        try:
            self._origins.pop(name, None)
            return self._items.pop(name)
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}") from None

    def get(self, name: str) -> T:
        """The entry called ``name``; a ``KeyError`` naming the known entries otherwise."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def origin(self, name: str) -> str | None:
        """The plugin module that registered ``name`` (``None``: the core, or code imported outside a plugin load)."""
        return self._origins.get(name)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, in registration order."""
        return list(self._items.items())
