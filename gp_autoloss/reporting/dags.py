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

from gp_autoloss.errors import GpAutolossError

__all__ = ["dag_svg"]

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
