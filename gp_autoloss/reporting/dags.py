"""Loss DAGs (Figure 1 style) as SVG text to inline in the HTML report.

Drawn by :func:`gp_autoloss.render.render_loss`: graphviz's ``dot`` when it is installed, otherwise the render
package's pure-Python SVG. Formulas come from the run file, which a user may not trust: they are parsed by the
formula parser (never evaluated) and a formula that does not parse gets no picture. Drawings are cached per
process, so a search that rewrites its report every generation draws each leaderboard loss once.
"""

from __future__ import annotations

import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from gp_autoloss.errors import GpAutolossError

__all__ = ["dag_svg", "missing_plugins", "undrawn_note"]

_PROLOG = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", re.DOTALL)


@lru_cache(maxsize=512)
def dag_svg(prefix: str, space: str) -> str | None:
    """SVG markup of the DAG of the loss ``prefix`` in ``space`` (no XML prolog, ready to inline), or ``None``
    if the formula cannot be read in that space."""
    from gp_autoloss.loss import parse
    from gp_autoloss.render import render_loss

    try:
        loss = parse(prefix, space)
        with tempfile.TemporaryDirectory(prefix="gp-autoloss-dag-") as tmp:
            result = render_loss(loss, Path(tmp) / "dag.svg", title="")
            text = result.path.read_text(encoding="utf-8")
    except (GpAutolossError, RecursionError, OSError):  # unreadable formula, unknown space, no temp space
        return None
    return _PROLOG.sub("", text).strip()


def missing_plugins(config: dict[str, Any]) -> list[str]:
    """The plugins a run records as needed (its config's ``plugins``) that this process has not loaded."""
    from gp_autoloss.plugins import loaded_plugins

    needed = config.get("plugins") or []
    if not isinstance(needed, list):
        return []
    return [str(p) for p in needed if p not in loaded_plugins()]


def undrawn_note(config: dict[str, Any], undrawn: int) -> str:
    """One sentence on ``undrawn`` DAGs this process could not draw, naming the plugin that would draw them."""
    missing = missing_plugins(config)
    what = f"{undrawn} loss DAG{'s' if undrawn != 1 else ''} not drawn"
    if missing:
        names = ", ".join(missing)
        return (f"{what}: the run uses plugin {names}, which this report did not load; install it or give "
                f"--plugin {missing[0]} (or GP_AUTOLOSS_PLUGINS) to draw them.")
    return f"{what}: the formula names something not registered in this process (a plugin that is not loaded?)."
