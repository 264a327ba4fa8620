"""Export a run's best loss. The core knows the generic formats (formula text, prefix form, JSON); a plugin
adds the formats of the framework it knows (the mmdet plugin adds ``mmdet``, a loss config snippet) with
:func:`register_export_format`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gp_autoloss.errors import GpAutolossError
from gp_autoloss.reporting.data import RunData
from primitives import Registry

__all__ = ["EXPORT_FORMATS", "ExportFormat", "export_formats_for", "export_snippet", "register_export_format"]

#: ``render(run, best)``: the text of the export; ``best`` is the run's best candidate row
Render = Callable[[RunData, dict[str, Any]], str]


@dataclass(frozen=True)
class ExportFormat:
    """One way to print a found loss: ``spaces`` it applies to (empty: any space)."""

    name: str
    render: Render
    help: str = ""
    spaces: tuple[str, ...] = ()

    def applies_to(self, space: str | None) -> bool:
        """Whether the format means something for a loss of ``space``."""
        return not self.spaces or space in self.spaces


EXPORT_FORMATS: Registry[ExportFormat] = Registry("export format")


def register_export_format(name: str, render: Render, *, help: str = "",
                           spaces: tuple[str, ...] = ()) -> ExportFormat:  # fmt: skip
    """Add an export format (``gp-autoloss export --format NAME``); ``spaces`` limits it to those spaces."""
    return EXPORT_FORMATS.add(name, ExportFormat(name, render, help, tuple(spaces)))


def export_formats_for(space: str | None) -> list[str]:
    """The registered formats that apply to a run of ``space``."""
    return [name for name, f in EXPORT_FORMATS.items() if f.applies_to(space)]


def export_snippet(run: RunData, fmt: str = "text") -> str:
    """The best loss of ``run`` in format ``fmt`` (see :data:`EXPORT_FORMATS`)."""
    space = run.config.get("space")
    if fmt not in EXPORT_FORMATS:
        hint = ""
        from gp_autoloss.plugins import loaded_plugins

        missing = [p for p in run.config.get("plugins") or [] if p not in loaded_plugins()]
        if missing:
            hint = f"; the run's plugin {missing[0]!r} is not loaded and may add it (--plugin {missing[0]})"
        raise GpAutolossError(f"unknown export format {fmt!r}; known: {', '.join(export_formats_for(space))}{hint}")
    form = EXPORT_FORMATS.get(fmt)
    if not form.applies_to(space):
        raise GpAutolossError(f"export format {fmt!r} does not apply to space {space!r} (it is for "
                              f"{', '.join(form.spaces)}); formats for this run: {', '.join(export_formats_for(space))}")
    best = run.best
    if best is None:
        raise GpAutolossError(f"run {run.run_dir} has no evaluated loss yet")
    return form.render(run, best)


def _json(run: RunData, best: dict[str, Any]) -> str:
    return json.dumps({"formula": best["formula"], "prefix": best["prefix"], "space": run.config.get("space"),
                       "proxy_metric": best["proxy_metric"], "generation": best["generation"]}, indent=2)


register_export_format("text", lambda run, best: best["formula"], help="the formula as infix text (default)")
register_export_format("prefix", lambda run, best: best["prefix"], help="the formula in prefix form")
register_export_format("json", _json, help="formula, prefix, space, proxy metric and generation as JSON")
