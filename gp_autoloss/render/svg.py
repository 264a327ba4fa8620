"""A dependency-free SVG drawing of a loss DAG, used when graphviz's ``dot`` binary is missing.

Layered layout: a node's layer is its longest distance from a source, so inputs sit at the bottom and
the loss at the top, as graphviz draws it with ``rankdir=BT``.
"""

from __future__ import annotations

from html import escape

import networkx as nx

from gp_autoloss.render.dot import NODE_STYLES

__all__ = ["dag_to_svg"]

_DX, _DY, _RX, _RY = 96, 70, 40, 16


def dag_to_svg(graph: nx.DiGraph, title: str | None = None) -> str:
    """SVG text of a loss DAG with a simple layered layout."""
    layer: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        preds = list(graph.predecessors(node))
        layer[node] = 1 + max(layer[p] for p in preds) if preds else 0
    n_layers = max(layer.values(), default=0) + 1
    rows: list[list[str]] = [[] for _ in range(n_layers)]
    for node in graph.nodes:
        rows[layer[node]].append(node)
    width = max(len(r) for r in rows) * _DX + _DX
    top = 40 if title else 10
    height = n_layers * _DY + top + 20
    pos: dict[str, tuple[float, float]] = {}
    for k, row in enumerate(rows):
        offset = (width - len(row) * _DX) / 2 + _DX / 2
        for j, node in enumerate(row):
            pos[node] = (offset + j * _DX, height - 30 - k * _DY)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="{width / 2:.0f}" y="22" text-anchor="middle">{escape(title)}</text>')
    for src, dst in graph.edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        out.append(f'<line x1="{x1:.0f}" y1="{y1 - _RY:.0f}" x2="{x2:.0f}" y2="{y2 + _RY:.0f}" stroke="#555"/>')
    for node, data in graph.nodes(data=True):
        x, y = pos[node]
        fill = NODE_STYLES.get(data.get("kind", "operator"), NODE_STYLES["operator"])["fillcolor"]
        out.append(f'<g><title>{escape(str(node))}</title>')
        out.append(f'<ellipse cx="{x:.0f}" cy="{y:.0f}" rx="{_RX}" ry="{_RY}" fill="{fill}" stroke="#333"/>')
        out.append(f'<text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{escape(str(data.get("label", node)))}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
