"""Drawing losses as DAGs (Figure 1 style): networkx graph, DOT text, graphviz or pure-SVG output."""

from gp_autoloss.render.dag import loss_dag
from gp_autoloss.render.dot import dag_to_dot
from gp_autoloss.render.files import RenderResult, render_loss

__all__ = ["loss_dag", "dag_to_dot", "render_loss", "RenderResult"]
