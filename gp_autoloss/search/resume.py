"""The settings a resumed run continues with: the run file's, except what could run code.

A run file may come from someone else, so it is read as data only:

* ``plugins`` it records are what the run *needs*; they are never imported because the file names them. Each
  must already be loaded by this command (installed plugin package, ``GP_AUTOLOSS_PLUGINS``, ``--plugin``),
  else :class:`~gp_autoloss.plugins.PluginError` names the missing one.
* Options that name code to run (an adapter's or executor's ``code_options``, or the options its declaration
  marks ``code=True``: e.g. the mmdet adapter's ``config`` file, which mmengine executes, and ``cfg_options``;
  Ray's ``address`` and ``runtime_env``) are not taken from the file: a run that has one must be given it
  again, with the same value, on the command line. (A run records a code option only when it was set.)
* Every other setting comes from the file and cannot be changed, except ``generations``, which may grow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gp_autoloss.errors import ConfigError
from gp_autoloss.plugins import PluginError, loaded_plugins, skipped_plugins
from gp_autoloss.search.config import SearchConfig

__all__ = ["resume_config", "adapter_code_options", "executor_code_options"]

_UNSET = object()


def adapter_code_options(adapter: str) -> tuple[str, ...]:
    """The options of a registered adapter whose values name code to run (``()`` for an unknown adapter)."""
    from gp_autoloss.fitness.base import ADAPTERS, load_adapters

    load_adapters(adapter)
    return tuple(getattr(ADAPTERS.get(adapter), "code_options", ())) if adapter in ADAPTERS else ()


def executor_code_options(executor: str) -> tuple[str, ...]:
    """The options of an executor whose values name code to run or where to run it."""
    from gp_autoloss.execution.base import executor_factory

    return tuple(getattr(executor_factory(executor), "code_options", ()))


def _executor_flag(executor: str) -> str:
    """How the command line gives an executor option: its declared flag (``--ray-{key} ...``), else
    ``--executor-option {key}=...``."""
    from gp_autoloss.execution.base import executor_options_class

    declared = executor_options_class(executor)
    if declared is not None and declared.flag_prefix:
        return declared.flag_prefix + "{key} ..."
    return "--executor-option {key}=..."


def _given_again(kind: str, stored: dict[str, Any], given: dict[str, Any], code: tuple[str, ...],
                 flag: str) -> None:  # fmt: skip
    for key in code:
        if key in stored and key not in given:
            raise ConfigError(
                f"the run's {kind} option {key} can run code and is never taken from a run file: give it again "
                f"to resume ({flag.format(key=key.replace('_', '-'))})"
            )


def resume_config(stored: dict[str, Any], given: dict[str, Any], run_dir: str | Path) -> SearchConfig:
    """The config to continue the run in ``run_dir`` with (``stored``: the run file's; ``given``: the settings
    named on this command line, as :class:`SearchConfig` fields). Raises a one-line :class:`ConfigError`."""
    config = SearchConfig.from_dict(stored)
    missing = [p for p in config.plugins if p not in loaded_plugins()]
    if missing:
        skipped = {s.module: s for s in skipped_plugins()}.get(missing[0])
        why = f" ({skipped.note()})" if skipped is not None else ""
        raise PluginError(
            f"{run_dir} needs plugin {missing[0]!r}, which this command did not load{why}: install its package or "
            f"give --plugin {missing[0]} (a run file never imports code by itself)"
        )
    if config.adapter:
        _given_again("adapter", config.adapter_options, given.get("adapter_options", {}),
                     adapter_code_options(config.adapter), "--adapter-option {key}=...")  # fmt: skip
    _given_again("executor", config.executor_options, given.get("executor_options", {}),
                 executor_code_options(config.executor), _executor_flag(config.executor))  # fmt: skip
    merged = dict(given)
    for table in ("adapter_options", "executor_options"):
        stored_table = getattr(config, table)
        for key, value in merged.pop(table, {}).items():  # the keys given must match; the others stay
            if stored_table.get(key, _UNSET) != value:
                was = stored_table.get(key, "not set")
                raise ConfigError(f"cannot change {table[:-8]} option {key} on --resume (run has {was!r})")
    merged.pop("plugins", None)  # checked above: more plugins may be loaded than the run needs
    for name, value in merged.items():
        if name == "generations":
            continue
        if getattr(config, name) != value:
            raise ConfigError(f"cannot change {name.replace('_', '-')} on --resume (run has {getattr(config, name)!r})")
    generations = merged.get("generations", config.generations)
    if generations < config.generations:
        raise ConfigError("--generations cannot shrink on --resume")
    config.generations = generations
    return config

