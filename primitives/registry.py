"""A tiny name -> object registry, the extension point for primitives, spaces, adapters, ..."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "RegistrationClash", "registering_for"]

T = TypeVar("T")

#: the plugin module being imported and the core packages (innermost last); see :func:`registering_for`
_ORIGINS: list[tuple[str, tuple[str, ...]]] = []
#: per open :func:`registering_for` block: what was added, to undo if the block fails
_JOURNALS: list[list[tuple[Registry[Any], str, bool, Any, str | None]]] = []


class RegistrationClash(KeyError):
    """A name registered twice: says who registered it first (``owner``: a plugin module, ``None`` for the
    core or code outside a plugin load) and who tried again (``newcomer``, likewise)."""

    def __init__(self, kind: str, name: str, owner: str | None, newcomer: str | None) -> None:
        super().__init__(kind, name)
        self.kind, self.name, self.owner, self.newcomer = kind, name, owner, newcomer

    def __str__(self) -> str:
        by = f" by plugin {self.owner!r}" if self.owner else ""
        return f"{self.kind} {self.name!r} is already registered{by}"


@contextmanager
def registering_for(plugin: str, core: tuple[str, ...] = ("primitives",)) -> Iterator[None]:
    """Attribute entries registered inside the ``with`` block to ``plugin`` (see :meth:`Registry.origin`),
    except those that the module-level code of a ``core`` package registers (a core module first imported
    while the plugin loads is still the core's). If the block raises, everything it registered is undone, so
    a plugin that fails half-way leaves no entries behind."""
    _ORIGINS.append((plugin, tuple(core)))
    journal: list[tuple[Registry[Any], str, bool, Any, str | None]] = []
    _JOURNALS.append(journal)
    try:
        yield
    except BaseException:
        for registry, name, existed, item, origin in reversed(journal):
            registry._restore(name, existed, item, origin)
        raise
    finally:
        _JOURNALS.pop()
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
        newcomer = _ORIGINS[-1][0] if _ORIGINS and not _registered_by_core(_ORIGINS[-1][1]) else None
        if name in self._items and not replace:
            raise RegistrationClash(self.kind, name, self._origins.get(name), newcomer)
        for journal in _JOURNALS:
            journal.append((self, name, name in self._items, self._items.get(name), self._origins.get(name)))
        self._items[name] = item
        if newcomer is not None:
            self._origins[name] = newcomer
        else:
            self._origins.pop(name, None)
        return item

    def _restore(self, name: str, existed: bool, item: Any, origin: str | None) -> None:
        """Undo one :meth:`add` (see :func:`registering_for`)."""
        if existed:
            self._items[name] = item
        else:
            self._items.pop(name, None)
        if origin is not None:
            self._origins[name] = origin
        else:
            self._origins.pop(name, None)

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
