"""``gp-autoloss search [--adapter NAME] [--executor NAME] --help``: the chosen adapter's and executor's options,
listed from their declarations (:class:`~gp_autoloss.options.Options`) after the command's own help.

Nothing heavy is imported: a lazily registered adapter (mmdet) and the ``ray`` executor are described by their
declarations alone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from gp_autoloss.errors import GpAutolossError

__all__ = ["SearchHelp", "options_help", "parse_key_values", "json_or_text"]


def json_or_text(text: str) -> Any:
    """A command-line value: JSON where it parses as JSON (``3``, ``true``, ``{"a": 1}``), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_key_values(items: Sequence[str], flag: str) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` -> options (``-`` in a key reads as ``_``); values as :func:`json_or_text`."""
    from gp_autoloss.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.replace("-", "_")] = json_or_text(value)
    return out


def _adapter_section(adapter: str, space: str | None) -> list[str]:
    from gp_autoloss.fitness.base import ADAPTERS, adapter_options_class
    from gp_autoloss.fitness.options import option_names

    head = f"options of adapter {adapter!r} for space {space!r} (--adapter-option KEY=VALUE; VALUE: JSON or text):"
    try:
        declared = adapter_options_class(adapter)
    except GpAutolossError as exc:
        return [f"adapter {adapter!r}: {exc}"]
    if declared is not None:
        return [head, *declared.help_lines(space)]
    factory = ADAPTERS.get(adapter)
    names = option_names(factory) if isinstance(factory, type) else ()
    listed = ", ".join(names) if names else "none"
    return [head, f"  (not declared with types and help; it takes: {listed})"]


def _executor_section(executor: str) -> list[str]:
    from gp_autoloss.execution.base import executor_options_class

    try:
        declared = executor_options_class(executor)
    except GpAutolossError as exc:
        return [f"executor {executor!r}: {exc}"]
    how = "--executor-option KEY=VALUE"
    if declared is not None and declared.flag_prefix:
        how = f"{declared.flag_prefix}KEY VALUE or {how}"
    head = f"options of executor {executor!r} ({how}):"
    if declared is None:
        return [head, "  (not declared; see the executor's documentation)"]
    lines = declared.help_lines()
    return [head, *(lines or ["  none of its own (--workers, --time-limit and --memory-limit-mb apply)"])]


def options_help(adapter: str, space: str | None, executor: str) -> str:
    """The text listing ``adapter``'s options (for ``space``) and ``executor``'s, from their declarations."""
    return "\n".join([*_adapter_section(adapter, space), "", *_executor_section(executor)])


class SearchHelp(argparse.Action):
    """``-h/--help`` of ``search``: the usual help, then the options of the adapter and executor named before it
    on the command line (or in ``--config``; default ``toy`` and ``local``)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        from gp_autoloss.search.config import SearchConfig

        chosen = {"adapter": SearchConfig.adapter, "space": SearchConfig.space, "executor": SearchConfig.executor}
        config_file = getattr(namespace, "config", None)
        if config_file:
            try:
                from gp_autoloss.search.config import load_config_file

                stored = load_config_file(config_file)
                chosen.update({k: v for k, v in stored.items() if k in chosen and isinstance(v, str)})
            except GpAutolossError:
                pass
        chosen.update({k: getattr(namespace, k) for k in chosen if getattr(namespace, k, None)})
        parser.print_help()
        print()
        print(options_help(chosen["adapter"], chosen["space"], chosen["executor"]))
        parser.exit()
