"""Adapter option names are checked once, generically, for every adapter (built-in or a plugin's).

An adapter declares its options with an :class:`~gp_autoloss.options.Options` dataclass
(:attr:`FitnessAdapter.options_class`: names, types, ranges, defaults, help); an older adapter may name them in
:attr:`FitnessAdapter.accepted_options` only, and one that declares nothing takes the keyword parameters of
its ``__init__``. Any other option is refused with one line naming the known ones and the likely intended one
(``stepz`` -> ``steps``), before a run directory exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from gp_autoloss.errors import ConfigError
from gp_autoloss.options import unknown_options_error

__all__ = ["option_names", "check_options"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def option_names(cls: type) -> tuple[str, ...]:
    """The options adapter class ``cls`` takes: its ``options_class``'s, else its ``accepted_options``, else its
    ``__init__``'s keywords."""
    options_class = getattr(cls, "options_class", None)
    if options_class is not None:
        return options_class.names()
    declared = getattr(cls, "accepted_options", None)
    if declared is not None:
        return tuple(declared)
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return tuple(n for n, p in params.items() if n not in ("self", "space") and p.kind in _NAMED)


def check_options(name: str, cls: type, options: Iterable[str]) -> None:
    """Raise :class:`ConfigError` if ``options`` holds a name adapter ``name`` (class ``cls``) does not take."""
    known = option_names(cls)
    unknown = sorted(set(options) - set(known))
    if not unknown:
        return
    if not known:
        raise ConfigError(
            f"adapter {name!r} takes no options (got {', '.join(unknown)}); an adapter declares the options it "
            "takes with options_class = an Options dataclass (gp_autoloss.options) or accepted_options = ('name', ...)"
        )
    raise unknown_options_error(f"adapter {name!r}", known, unknown)
