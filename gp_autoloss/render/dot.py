"""DOT text of a loss DAG in the paper's Figure 1 style (inputs, operators, output distinguished)."""

from __future__ import annotations

import networkx as nx

__all__ = ["dag_to_dot", "NODE_STYLES"]

#: graphviz attributes per node kind
NODE_STYLES: dict[str, dict[str, str]] = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#9ecae1", "fontname": "Helvetica-Bold"},
    "constant": {"shape": "box", "style": "filled,rounded", "fillcolor": "#e0e0e0", "fontname": "Helvetica"},
    "operator": {"shape": "ellipse", "style": "filled", "fillcolor": "#fdd0a2", "fontname": "Helvetica"},
    "output": {"shape": "doublecircle", "style": "filled", "fillcolor": "#a1d99b", "fontname": "Helvetica-Bold"},
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dag_to_dot(graph: nx.DiGraph, title: str | None = None) -> str:
    """Graphviz DOT source for a DAG made by :func:`~gp_autoloss.render.dag.loss_dag`."""
    ids = {node: f"n{k}" for k, node in enumerate(graph.nodes)}
    lines = [
        "digraph loss {",
        '  graph [rankdir=BT, nodesep=0.3, ranksep=0.35, bgcolor="white"];',
        '  edge [color="#555555", arrowsize=0.6];',
    ]
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)}; fontname=Helvetica;")
    sources = []
    for node, data in graph.nodes(data=True):
        style = NODE_STYLES.get(data.get("kind", "operator"), NODE_STYLES["operator"])
        attrs = {"label": data.get("label", str(node)), "tooltip": str(node), **style}
        attr_text = ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())
        lines.append(f"  {ids[node]} [{attr_text}];")
        if data.get("kind") in ("input", "constant"):
            sources.append(ids[node])
    if sources:
        lines.append("  { rank=min; " + " ".join(sources) + "; }")
    for src, dst, data in graph.edges(data=True):
        ordered = graph.nodes[dst].get("ordered", False)
        head = ",".join(str(pos + 1) for pos in data.get("args", (data["arg"],)))
        label = f" [headlabel={_quote(head)}, labelfontsize=9, labeldistance=1.6]" if ordered else ""
        lines.append(f"  {ids[src]} -> {ids[dst]}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
