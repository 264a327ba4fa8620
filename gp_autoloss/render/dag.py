"""A loss as a ``networkx.DiGraph``: shared subexpressions merged into one node.

Node ids are the subexpressions' canonical prefix keys (plus ``"loss"`` for the output). Node
attributes: ``kind`` (input, constant, operator, output), ``label``, ``type``, ``ordered`` (whether
the argument order matters). Edges run from an
argument to its operator, with ``arg`` giving the argument position and ``args`` all of them (a
subexpression used twice by one operator, as in ``div(e, e)``, is one edge with ``args == (0, 1)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:  # pragma: no cover
    from gp_autoloss.loss import Loss

__all__ = ["loss_dag", "OUTPUT_NODE", "OPERATOR_SYMBOLS"]

OUTPUT_NODE = "loss"
#: pretty labels for operators with a math symbol
OPERATOR_SYMBOLS = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "neg": "neg"}


def loss_dag(loss: Loss) -> nx.DiGraph:
    """The DAG of ``loss``: inputs and constants are sources, the output node ``"loss"`` the sink."""
    graph = nx.DiGraph(formula=loss.infix, space=loss.space.name)
    seen: set[str] = set()
    for node in loss.expr.walk():
        if node.key in seen:
            continue
        seen.add(node.key)
        kind = {"primitive": "operator"}.get(node.kind, node.kind)
        label = OPERATOR_SYMBOLS.get(node.name, node.name) if kind == "operator" else node.name
        ordered = kind == "operator" and len(node.children) > 1 and not node.overload.primitive.commutative
        graph.add_node(node.key, kind=kind, label=label, type=node.type.__name__, name=node.name, ordered=ordered)
        for pos, child in enumerate(node.children):
            if graph.has_edge(child.key, node.key):  # one edge stands for both arguments of div(e, e)
                graph.edges[child.key, node.key]["args"] += (pos,)
            else:
                graph.add_edge(child.key, node.key, arg=pos, args=(pos,))
    graph.add_node(OUTPUT_NODE, kind="output", label="loss", type=loss.expr.type.__name__, name=OUTPUT_NODE)
    graph.add_edge(loss.expr.key, OUTPUT_NODE, arg=0, args=(0,))
    return graph
