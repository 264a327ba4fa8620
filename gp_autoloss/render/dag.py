"""A loss as a ``networkx.DiGraph``: shared subexpressions merged into one node.

Node ids are the subexpressions' canonical prefix keys (plus ``"loss"`` for the output). Node
attributes: ``kind`` (input, constant, operator, output), ``label``, ``type``. Edges run from an
argument to its operator, with ``arg`` giving the argument position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:  # pragma: no cover
    from gp_autoloss.loss import Loss

__all__ = ["loss_dag", "OUTPUT_NODE", "OPERATOR_SYMBOLS"]

OUTPUT_NODE = "loss"
#: pretty labels for operators with a math symbol
OPERATOR_SYMBOLS = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "neg": "\u2212x"}


def loss_dag(loss: Loss) -> nx.DiGraph:
    """The DAG of ``loss``: inputs and constants are sources, the output node ``"loss"`` the sink."""
    graph = nx.DiGraph(formula=loss.infix, space=loss.space.name)
    for node in loss.expr.walk():
        if node.key in graph:
            continue
        kind = {"primitive": "operator"}.get(node.kind, node.kind)
        label = OPERATOR_SYMBOLS.get(node.name, node.name) if kind == "operator" else node.name
        graph.add_node(node.key, kind=kind, label=label, type=node.type.__name__, name=node.name)
        for pos, child in enumerate(node.children):
            graph.add_edge(child.key, node.key, arg=pos)
    graph.add_node(OUTPUT_NODE, kind="output", label="loss", type=loss.expr.type.__name__, name=OUTPUT_NODE)
    graph.add_edge(loss.expr.key, OUTPUT_NODE, arg=0)
    return graph
