"""Write a loss DAG to ``.dot``, ``.svg``, ``.png`` or ``.pdf``.

With graphviz's ``dot`` binary the picture is drawn by graphviz. Without it, ``.dot`` and ``.svg`` are
still written (the SVG by a built-in layered layout); ``.png``/``.pdf`` fall back to a ``.dot`` file
next to the requested path, and the result says how to get images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gp_autoloss.errors import OutputPathError
from gp_autoloss.render.dot import dag_to_dot
from gp_autoloss.render.svg import dag_to_svg

if TYPE_CHECKING:  # pragma: no cover
    from gp_autoloss.loss import Loss

__all__ = ["render_loss", "RenderResult", "FORMATS", "graphviz_available"]

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = "install graphviz (Debian: apt-get install graphviz) to get images"


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_loss` wrote: the file, whether graphviz drew it, and any note for the user."""

    path: Path
    engine: str
    note: str = ""


def graphviz_available() -> bool:
    """Whether graphviz's ``dot`` binary is on the PATH."""
    return shutil.which("dot") is not None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_loss(loss: Loss, path: str | os.PathLike[str], title: str | None = None) -> RenderResult:
    """Draw ``loss`` to ``path``; the format is the file extension (svg, png, pdf or dot)."""
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise OutputPathError(f"cannot render to {out.name!r}: extension must be one of {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise OutputPathError(f"cannot write {str(out)!r}: directory {str(out.parent)!r} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise OutputPathError(f"cannot write {str(out)!r}: directory is not writable")
    graph = loss.to_networkx()
    title = loss.infix if title is None else title
    dot_text = dag_to_dot(graph, title)
    try:
        if fmt == "dot":
            _atomic_write(out, dot_text.encode())
            return RenderResult(out, "dot-text")
        if graphviz_available():
            proc = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=60)
            if proc.returncode == 0:
                _atomic_write(out, proc.stdout)
                return RenderResult(out, "graphviz")
            reason = proc.stderr.decode(errors="replace").strip().splitlines()[:1]
            note = f"graphviz failed ({reason[0] if reason else 'no message'}); "
        else:
            note = ""
        if fmt == "svg":
            _atomic_write(out, dag_to_svg(graph, title).encode())
            return RenderResult(out, "builtin-svg", note + f"drawn without graphviz; {INSTALL_HINT}")
        fallback = out.with_suffix(".dot")
        _atomic_write(fallback, dot_text.encode())
        return RenderResult(fallback, "dot-text", note + f"wrote {fallback} instead of {out.name}; {INSTALL_HINT}")
    except OSError as exc:
        raise OutputPathError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
