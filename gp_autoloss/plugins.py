"""Where plugins come from: installed packages' entry points, ``--plugin``, and ``GP_AUTOLOSS_PLUGINS``.

A plugin is a module whose import registers primitives, spaces, known losses, adapters, strategies,
executors or export formats. Every command loads, in this order:

1. the entry points of group ``gp_autoloss.plugins`` of every installed package (like pytest's ``pytest11``)::

       entry_points={"gp_autoloss.plugins": ["segplug = segplug"]}

2. the modules named in the environment variable ``GP_AUTOLOSS_PLUGINS`` (comma-separated);
3. the modules named with ``--plugin MODULE`` on the command line (or ``plugins`` in a ``--config`` file).

Nothing else is ever imported because a run file names it: a run file records the plugins it needs (so a
resumed run or a report can say which one is missing), never which ones to import. A plugin that fails to
import is one :class:`PluginError` line.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from gp_autoloss.errors import ConfigError
from primitives.registry import registering_for

__all__ = ["ENTRY_POINT_GROUP", "ENV_VAR", "LoadedPlugin", "PluginError", "env_plugins", "import_plugin",
           "load_entry_points", "load_plugins", "loaded_plugins", "plugin_files", "plugins_used_by"]  # fmt: skip

ENTRY_POINT_GROUP = "gp_autoloss.plugins"
ENV_VAR = "GP_AUTOLOSS_PLUGINS"
#: what registers at import of these packages' modules is the core's, even when first imported by a plugin
CORE_PACKAGES = ("gp_autoloss", "primitives")

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class PluginError(ConfigError):
    """A plugin that cannot be imported, or a run that needs a plugin this command did not load."""


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin module this process imported: where it was named and the file it came from."""

    module: str
    source: str
    file: str | None


_LOADED: dict[str, LoadedPlugin] = {}
_ENTRY_POINTS_LOADED = False


def import_plugin(module: str, source: str = "--plugin") -> LoadedPlugin:
    """Import plugin ``module`` once; what it registers is attributed to it. ``source`` says who named it."""
    done = _LOADED.get(module)
    if done is not None:
        return done
    if not isinstance(module, str) or not _MODULE_NAME.match(module):
        raise PluginError(f"plugin {module!r} ({source}) is not a module name like 'package.module'")
    try:
        with registering_for(module, core=CORE_PACKAGES):
            mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise PluginError(f"cannot import plugin {module!r} ({source}): {type(exc).__name__}: {first}") from None
    loaded = _LOADED[module] = LoadedPlugin(module, source, getattr(mod, "__file__", None))
    return loaded


def load_entry_points() -> None:
    """Import the plugin modules that installed packages declare (group :data:`ENTRY_POINT_GROUP`), once."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.module, e.name)):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
        import_plugin(ep.module, f"entry point {ep.name!r} of {dist}")


def env_plugins() -> list[str]:
    """The modules named in :data:`ENV_VAR`."""
    return [name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip()]


def load_plugins(modules: Sequence[str] = (), source: str = "--plugin") -> list[str]:
    """Load entry-point plugins, then :data:`ENV_VAR`'s, then ``modules``; returns every loaded plugin's name."""
    if isinstance(modules, str):
        raise PluginError(f"plugins must be a list of module names, got the string {modules!r}")
    load_entry_points()
    for name in env_plugins():
        import_plugin(name, ENV_VAR)
    for name in modules:
        import_plugin(name, source)
    return loaded_plugins()


def loaded_plugins() -> list[str]:
    """Names of the plugin modules imported so far, in load order."""
    return list(_LOADED)


def plugin_files() -> dict[str, str | None]:
    """Plugin module -> the file this process imported it from (what a worker must import too)."""
    return {name: p.file for name, p in _LOADED.items()}


def plugins_used_by(space: str, adapter: str | None = None, strategy: str | None = None,
                    executor: str | None = None) -> list[str]:  # fmt: skip
    """The plugins that registered what a run of these settings uses: the space, its primitives and initial
    loss, the adapter, the strategy and its stages, and the executor (entries registered outside a plugin load
    are the core's)."""
    from gp_autoloss.execution.base import EXECUTORS
    from gp_autoloss.fitness.base import ADAPTERS
    from gp_autoloss.known import KNOWN_LOSSES
    from gp_autoloss.search.strategies import STRATEGIES
    from primitives import PRIMITIVES, SPACES

    origins: list[str | None] = [SPACES.origin(space)]
    if space in SPACES:
        sp: Any = SPACES.get(space)
        origins += [PRIMITIVES.origin(p) for p in sp.primitives]
        if getattr(sp, "initial_loss", None):
            origins.append(KNOWN_LOSSES.origin(sp.initial_loss))
    for registry, name in ((ADAPTERS, adapter), (STRATEGIES, strategy), (EXECUTORS, executor)):
        if name is not None:
            origins.append(registry.origin(name))
    if strategy is not None and strategy in STRATEGIES:  # and the stages it lists, a plugin's among them
        from gp_autoloss.search.stages import SEARCH_STAGES

        origins += [SEARCH_STAGES.origin(s) for s in STRATEGIES.get(strategy).stages if isinstance(s, str)]
    return list(dict.fromkeys(o for o in origins if o))
