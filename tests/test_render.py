"""Rendering (Figure 1): the networkx DAG, DOT text, graphviz output, and the fallbacks without graphviz."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from deap import gp

from gp_autoloss import OutputPathError, known_loss, parse
from gp_autoloss.render import dag_to_dot, render_loss
from gp_autoloss.render.dag import OUTPUT_NODE
from primitives import PRIMITIVES

HAS_DOT = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(not HAS_DOT, reason="graphviz's dot binary is not installed")
PAPER_LOSSES = ["cse_a_cls", "cse_b_cls"]


@pytest.fixture
def no_graphviz(monkeypatch, tmp_path):
    """PATH is an empty directory: ``shutil.which('dot')`` finds nothing."""
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# ---- the DAG ----------------------------------------------------------------------------------------------------


def _distinct_subtrees(loss) -> set[tuple[str, ...]]:
    names = [node.name for node in loss.tree]
    return {tuple(names[loss.tree.searchSubtree(k)]) for k in range(len(loss.tree))}


@pytest.mark.parametrize("name", ["ce", "cse_a_cls", "cse_b_cls", "giou", "cse_b_reg"])
def test_dag_structure(name):
    loss = known_loss(name)
    graph = loss.to_networkx()
    assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph)
    # one node per distinct subexpression, plus the output
    assert graph.number_of_nodes() == len(_distinct_subtrees(loss)) + 1
    sinks = [n for n in graph if graph.out_degree(n) == 0]
    assert sinks == [OUTPUT_NODE] and graph.nodes[OUTPUT_NODE]["kind"] == "output"
    sources = {n for n in graph if graph.in_degree(n) == 0}
    terminals = {node.value if isinstance(node.value, str) else str(node.value)
                 for node in loss.tree if isinstance(node, gp.Terminal)}
    assert sources == terminals
    assert all(graph.nodes[n]["kind"] in ("input", "constant") for n in sources)
    assert {graph.nodes[n]["kind"] for n in graph} - {"input", "constant", "operator", "output"} == set()
    operators = [n for n in graph if graph.nodes[n]["kind"] == "operator"]
    assert len(operators) == loss.to_torch().num_steps  # the renderer and the compiler merge alike
    for n in operators:  # every argument position of every operator has its edge
        positions = sorted(p for _, _, d in graph.in_edges(n, data=True) for p in d["args"])
        assert positions == list(range(PRIMITIVES[graph.nodes[n]["name"]].arity)), n
    assert nx.has_path(graph, "x" if loss.space.name != "iou_reg" else "i", OUTPUT_NODE)


def test_cse_b_cls_dag_has_fewer_nodes_than_its_tree():
    loss = known_loss("cse_b_cls")
    graph = loss.to_networkx()
    assert graph.number_of_nodes() < loss.size
    assert graph.number_of_nodes() - 1 < loss.size  # even without the output node
    assert graph.out_degree("sigmoid(x)") == 3  # log(sigmoid(x)), sigmoid(x) - w*y, 1 - sigmoid(x)


def test_same_argument_twice_is_one_edge_with_both_positions():
    graph = known_loss("cse_b_reg").to_networkx()
    assert graph.edges["e", "div(e, e)"]["args"] == (0, 1)
    assert 'headlabel="1,2"' in dag_to_dot(graph)


def test_node_attributes():
    graph = known_loss("cse_a_cls").to_networkx()
    assert graph.nodes["x"] == {"kind": "input", "label": "x", "type": "Vector", "name": "x", "ordered": False}
    assert graph.nodes["1"]["kind"] == "constant" and graph.nodes["1"]["type"] == "Scalar"
    assert graph.nodes["sin(w)"]["kind"] == "operator" and graph.nodes["sin(w)"]["type"] == "Scalar"
    assert graph.nodes["softmax(x)"]["type"] == "Vector"
    assert graph.graph["formula"] == str(known_loss("cse_a_cls")) and graph.graph["space"] == "softmax_cls"


# ---- DOT text -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAPER_LOSSES)
def test_dot_text(name):
    loss = known_loss(name)
    graph = loss.to_networkx()
    text = dag_to_dot(graph, title=str(loss))
    assert text.startswith("digraph loss {") and text.rstrip().endswith("}")
    assert text.count(" -> ") == graph.number_of_edges()
    node_lines = [line for line in text.splitlines() if line.strip().startswith("n") and "[label=" in line]
    assert len(node_lines) == graph.number_of_nodes()
    assert 'fillcolor="#9ecae1"' in text and 'shape="doublecircle"' in text  # inputs and output drawn differently
    assert "rankdir=BT" in text


# ---- files with graphviz --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAPER_LOSSES)
def test_render_dot_file(name, out_dir):
    result = render_loss(known_loss(name), out_dir / f"{name}.dot")
    assert result.path == out_dir / f"{name}.dot" and result.engine == "dot-text"
    assert result.path.read_text() == dag_to_dot(known_loss(name).to_networkx(), str(known_loss(name)))
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{name}.dot"]  # no temporary files left


@needs_graphviz
@pytest.mark.parametrize("name", PAPER_LOSSES)
def test_render_svg_with_graphviz(name, out_dir):
    loss = known_loss(name)
    result = render_loss(loss, out_dir / f"{name}.svg")
    assert result.engine == "graphviz" and result.note == ""
    root = ET.parse(result.path).getroot()
    assert root.tag.endswith("svg")
    text = result.path.read_text()
    assert text.count('class="node"') == loss.to_networkx().number_of_nodes()
    assert text.count('class="edge"') == loss.to_networkx().number_of_edges()


@needs_graphviz
@pytest.mark.parametrize(("ext", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_render_images_with_graphviz(ext, magic, out_dir):
    result = render_loss(known_loss("cse_b_cls"), out_dir / f"b.{ext}")
    assert result.engine == "graphviz" and result.path == out_dir / f"b.{ext}"
    assert result.path.read_bytes().startswith(magic)
    assert sorted(p.name for p in out_dir.iterdir()) == [f"b.{ext}"]


# ---- files without graphviz -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAPER_LOSSES)
def test_svg_without_graphviz_uses_the_builtin_drawing(name, out_dir, no_graphviz):
    loss = known_loss(name)
    result = render_loss(loss, out_dir / f"{name}.svg")
    assert result.engine == "builtin-svg" and "install graphviz" in result.note
    root = ET.parse(result.path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    graph = loss.to_networkx()
    assert len(root.findall(f"{ns}g")) == graph.number_of_nodes()
    assert len(root.findall(f"{ns}line")) == graph.number_of_edges()
    titles = [t.text for t in root.iter(f"{ns}title")]
    assert set(titles) == set(graph.nodes)
    assert str(loss) in [t.text for t in root.findall(f"{ns}text")]


@pytest.mark.parametrize("ext", ["png", "pdf"])
def test_images_without_graphviz_fall_back_to_dot(ext, out_dir, no_graphviz):
    loss = known_loss("cse_a_cls")
    result = render_loss(loss, out_dir / f"a.{ext}")
    assert result.path == out_dir / "a.dot" and result.engine == "dot-text"
    assert "install graphviz" in result.note and f"a.{ext}" in result.note
    assert not (out_dir / f"a.{ext}").exists()
    assert result.path.read_text().startswith("digraph loss {")


def test_dot_without_graphviz(out_dir, no_graphviz):
    result = render_loss(known_loss("cse_b_cls"), out_dir / "b.dot")
    assert result.engine == "dot-text" and result.note == ""


# ---- unwritable output --------------------------------------------------------------------------------------------


def _snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def test_render_to_a_missing_directory_creates_nothing(tmp_path):
    before = _snapshot(tmp_path)
    with pytest.raises(OutputPathError, match="does not exist"):
        render_loss(known_loss("cse_a_cls"), tmp_path / "missing" / "deeper" / "a.svg")
    assert _snapshot(tmp_path) == before


def test_render_below_a_file_creates_nothing(tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    before = _snapshot(tmp_path)
    with pytest.raises(OutputPathError):
        render_loss(known_loss("cse_a_cls"), tmp_path / "plain.txt" / "a.svg")
    assert _snapshot(tmp_path) == before


def test_render_onto_a_directory_leaves_no_temporary_file(tmp_path):
    (tmp_path / "taken.dot").mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(OutputPathError):
        render_loss(known_loss("cse_a_cls"), tmp_path / "taken.dot")
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only directories")
def test_render_to_a_read_only_directory_creates_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            render_loss(known_loss("cse_a_cls"), locked / "a.svg")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_render_into_a_pseudo_filesystem_fails_cleanly():
    """/proc takes no new files, not even from root."""
    target = Path("/proc") / f"gp_autoloss_test_{os.getpid()}.svg"
    with pytest.raises(OutputPathError, match="cannot write"):
        render_loss(known_loss("cse_a_cls"), target)
    assert not target.exists()


def test_render_with_a_bad_extension_creates_nothing(tmp_path):
    with pytest.raises(OutputPathError, match="extension must be one of svg, png, pdf, dot"):
        render_loss(parse("1 - i / u", "iou_reg"), tmp_path / "a.jpg")
    assert list(tmp_path.iterdir()) == []
