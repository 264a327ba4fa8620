"""Where plugins come from: installed packages' entry points, ``--plugin``, and ``GP_AUTOLOSS_PLUGINS``.

A plugin is a module whose import registers primitives, spaces, known losses, adapters, strategies,
executors or export formats. Every command loads, in this order:

1. the modules named in the environment variable ``GP_AUTOLOSS_PLUGINS`` (comma-separated);
2. the modules named with ``--plugin MODULE`` on the command line (or ``plugins`` in a ``--config`` file);
3. the entry points of group ``gp_autoloss.plugins`` of every installed package (like pytest's ``pytest11``)::

       entry_points={"gp_autoloss.plugins": ["segplug = segplug"]}

Names are plain (``square``, not ``segplug.square``): a formula, a run file and a config say ``square`` and
``--adapter seg_blobs``, as they say ``sin`` and ``toy``. So two plugins may want the same name. A plugin's
registrations are all-or-nothing (:func:`primitives.registry.registering_for` undoes a failed import's), and:

* two plugins that the user named (1, 2) and that register one name: one :class:`PluginError` line naming
  both plugins and the name -- the user asked for both, and only one can have it;
* an installed plugin (3) that registers a name already taken (by a named plugin, an earlier entry point or
  the core) is *not loaded*, and the command goes on without it: installing a package must never break the
  commands of a user who does not use it. :func:`skipped_plugins` says which, and why; the CLI prints it as
  a note, and a run that needs the skipped plugin names it as missing.

Named plugins load first so that they win: a user's ``square`` works beside an installed package that also
has one. Nothing else is ever imported because a run file names it: a run file records the plugins it needs
(so a resumed run or a report can say which one is missing), never which ones to import. A plugin that fails to
import for another reason is one :class:`PluginError` line, whoever named it.
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
from primitives.registry import RegistrationClash, registering_for

__all__ = ["ENTRY_POINT_GROUP", "ENV_VAR", "LoadedPlugin", "PluginError", "SkippedPlugin", "env_plugins",
           "import_plugin", "load_entry_points", "load_plugins", "loaded_plugins", "plugin_files", "plugins_used_by",
           "skipped_plugins"]  # fmt: skip

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


@dataclass(frozen=True)
class SkippedPlugin:
    """An installed (entry-point) plugin this process did not load, because a name it registers was taken."""

    module: str
    source: str
    reason: str

    def note(self) -> str:
        """One line for the user."""
        return f"installed plugin {self.module!r} ({self.source}) not loaded: {self.reason}"


_LOADED: dict[str, LoadedPlugin] = {}
_SKIPPED: dict[str, SkippedPlugin] = {}
_ENTRY_POINTS_LOADED = False


def _who(module: str | None) -> str:
    """A plugin with where it was named, or the core."""
    if module is None:
        return "the core"
    done = _LOADED.get(module)
    return f"plugin {module!r} ({done.source})" if done is not None else f"plugin {module!r}"


def _clash_message(module: str, source: str, clash: RegistrationClash) -> str:
    return (f"plugin {module!r} ({source}) and {_who(clash.owner)} both register {clash.kind} {clash.name!r}; "
            f"load only one of them, or rename it in one")


def import_plugin(module: str, source: str = "--plugin") -> LoadedPlugin:
    """Import plugin ``module`` once; what it registers is attributed to it. ``source`` says who named it.

    Raises :class:`PluginError` (one line) when the import fails; when it fails because a name the plugin
    registers is taken, the line names both plugins (or the core) and the name. A failed import registers
    nothing."""
    done = _LOADED.get(module)
    if done is not None:
        return done
    if not isinstance(module, str) or not _MODULE_NAME.match(module):
        raise PluginError(f"plugin {module!r} ({source}) is not a module name like 'package.module'")
    try:
        with registering_for(module, core=CORE_PACKAGES):
            mod = importlib.import_module(module)
    except RegistrationClash as clash:
        _forget(module)
        raise PluginError(_clash_message(module, source, clash)) from clash
    except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is one line
        _forget(module)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise PluginError(f"cannot import plugin {module!r} ({source}): {type(exc).__name__}: {first}") from None
    _SKIPPED.pop(module, None)
    loaded = _LOADED[module] = LoadedPlugin(module, source, getattr(mod, "__file__", None))
    return loaded


def _forget(module: str) -> None:
    """Drop a failed plugin's half-imported modules (the package and its submodules) from ``sys.modules``,
    so a later import runs it again rather than finding a module whose registrations were undone."""
    import sys

    for name in [n for n in sys.modules if n == module or n.startswith(module + ".")]:
        del sys.modules[name]


def load_entry_points() -> None:
    """Import the plugin modules that installed packages declare (group :data:`ENTRY_POINT_GROUP`), once.
    One whose registrations clash with a name already taken is skipped (see :func:`skipped_plugins`)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.module, e.name)):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
        source = f"entry point {ep.name!r} of {dist}"
        try:
            import_plugin(ep.module, source)
        except PluginError as exc:
            clash = exc.__cause__
            if not isinstance(clash, RegistrationClash):
                raise
            _SKIPPED[ep.module] = SkippedPlugin(ep.module, source, f"{clash.kind} {clash.name!r} is already "
                                                f"registered by {_who(clash.owner)}")  # fmt: skip


def skipped_plugins() -> list[SkippedPlugin]:
    """The installed plugins not loaded because a name they register was taken, in load order."""
    return list(_SKIPPED.values())


def env_plugins() -> list[str]:
    """The modules named in :data:`ENV_VAR`."""
    return [name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip()]


def load_plugins(modules: Sequence[str] = (), source: str = "--plugin") -> list[str]:
    """Load :data:`ENV_VAR`'s plugins, then ``modules``, then the entry-point plugins (which give way where a
    name clashes); returns every loaded plugin's name."""
    if isinstance(modules, str):
        raise PluginError(f"plugins must be a list of module names, got the string {modules!r}")
    for name in env_plugins():
        import_plugin(name, ENV_VAR)
    for name in modules:
        import_plugin(name, source)
    load_entry_points()
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
