"""The layered layout of directed acyclic graphs and its SVG."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree

import pytest

from shipyard.ui.graph import NODE_HEIGHT, NODE_WIDTH, Node, draw, layout

SVG = "{http://www.w3.org/2000/svg}"


def pipeline_like() -> tuple[list[Node], list[tuple[str, str]]]:
    """A graph shaped like the standard pipeline's, nodes given in a shuffled order."""
    names = ["push", "stats", "gen", "train", "schema", "validate", "transform", "evaluate"]
    edges = [
        ("gen", "stats"), ("stats", "schema"), ("stats", "validate"), ("schema", "validate"),
        ("gen", "transform"), ("schema", "transform"), ("transform", "train"),
        ("train", "evaluate"), ("transform", "evaluate"), ("evaluate", "push"),
        ("train", "push"),
    ]  # fmt: skip
    return [Node(name, (name, "Component")) for name in names], edges


def test_every_edge_points_right_and_columns_are_longest_paths() -> None:
    nodes, edges = pipeline_like()
    placed = layout(nodes, edges)
    where = {p.node.key: p for p in placed.nodes}

    for source, target in placed.edges:
        assert target.column > source.column
        assert target.x >= source.x + NODE_WIDTH
    assert where["gen"].column == 0
    assert where["validate"].column == 3  # gen → stats → schema → validate
    assert where["push"].column == 6
    assert [p.node.key for p in placed.nodes] == [node.key for node in nodes]


def test_no_two_nodes_overlap_and_all_fit_in_the_drawing() -> None:
    nodes = [Node(f"n{i}", (f"node {i}",)) for i in range(12)]
    edges = [(f"n{i}", f"n{j}") for i in range(4) for j in range(4, 12) if (i + j) % 3 == 0]
    placed = layout(nodes, edges)

    for first, second in itertools.combinations(placed.nodes, 2):
        apart_x = first.x + NODE_WIDTH <= second.x or second.x + NODE_WIDTH <= first.x
        apart_y = first.y + NODE_HEIGHT <= second.y or second.y + NODE_HEIGHT <= first.y
        assert apart_x or apart_y, (first.node.key, second.node.key)
    for p in placed.nodes:
        assert p.x >= 0 and p.x + NODE_WIDTH <= placed.width
        assert p.y >= 0 and p.y + NODE_HEIGHT <= placed.height


def test_barycentres_uncross_two_parallel_chains() -> None:
    # Given crossed (a feeds the lower node, b the upper), the sweep puts them straight.
    nodes = [Node(key, (key,)) for key in ("a", "b", "from_b", "from_a")]
    placed = layout(nodes, [("a", "from_a"), ("b", "from_b")])
    row = {p.node.key: p.row for p in placed.nodes}
    assert row["from_a"] == row["a"] and row["from_b"] == row["b"]


def test_the_svg_escapes_text_and_links_and_draws_each_node_and_edge() -> None:
    nodes = [
        Node("x", ("<script>alert(1)</script>", 'a "quoted" & more'), kind="failed"),
        Node("y", ("plain",), href='/lineage?ref=artifact:1&direction="down"'),
    ]
    svg = str(draw(layout(nodes, [("x", "y")]), label="a <b> graph"))

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    tree = ElementTree.fromstring(svg)  # well-formed XML, so the escaping held
    assert tree.get("aria-label") == "a <b> graph"
    texts = [element.text for element in tree.iter(f"{SVG}text")]
    assert texts == ["<script>alert(1)</script>", 'a "quoted" & more', "plain"]
    [link] = tree.iter(f"{SVG}a")
    assert link.get("href") == '/lineage?ref=artifact:1&direction="down"'
    groups = [g for g in tree.iter(f"{SVG}g") if "node" in (g.get("class") or "")]
    assert [g.get("class") for g in groups] == ["node failed", "node "]
    assert len([p for p in tree.iter(f"{SVG}path") if p.get("class") == "edge"]) == 1


def test_long_lines_are_cut_and_only_two_are_drawn() -> None:
    node = Node("n", ("x" * 100, "second", "third"))
    tree = ElementTree.fromstring(str(draw(layout([node], []))))
    texts = [element.text or "" for element in tree.iter(f"{SVG}text")]
    assert len(texts) == 2 and texts[0].endswith("…") and len(texts[0]) < 40
    [title] = tree.iter(f"{SVG}title")
    assert "x" * 100 in (title.text or "")


def test_cycles_and_unknown_nodes_are_refused() -> None:
    nodes = [Node("a", ("a",)), Node("b", ("b",))]
    with pytest.raises(ValueError, match="cycle"):
        layout(nodes, [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="not in the graph"):
        layout(nodes, [("a", "c")])


def test_an_empty_graph_is_an_empty_drawing() -> None:
    placed = layout([], [])
    assert placed.nodes == () and placed.width == 20 and placed.height == 20
