"""Directed acyclic graphs drawn as SVG on the server: a run's steps, a lineage.

The pages draw graphs of a few dozen nodes, so a small layered layout is enough and
needs no JavaScript: each node goes in the column of its longest path from a source
(every edge then points right), the nodes of a column are ordered by the mean position
of their neighbours (barycentres, swept forward then back, twice), which removes most
crossings, and edges are cubic curves from a node's right side to the next one's left.

>>> drawn = draw(layout([Node("a", ("load",)), Node("b", ("train",))], [("a", "b")]))
>>> drawn.startswith("<svg")
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["Layout", "Node", "Placed", "draw", "layout"]

NODE_WIDTH = 180
NODE_HEIGHT = 46
COLUMN_GAP = 48
ROW_GAP = 18
MARGIN = 10
#: Characters of a line that fit in a node box; longer lines end with an ellipsis.
LINE_CHARACTERS = 25
SWEEPS = 2
#: A wide graph shrinks to fit the page down to this scale, then scrolls (in its frame).
MIN_SCALE = 0.6


@dataclass(frozen=True)
class Node:
    """A node to draw: up to two ``lines`` of text, a CSS ``kind`` (e.g. a step's
    status or ``artifact``) and where it links to, if anywhere."""

    key: str
    lines: tuple[str, ...]
    kind: str = ""
    href: str | None = None
    title: str = ""


@dataclass(frozen=True)
class Placed:
    """A node at its place: the top-left corner of its box, its column and row."""

    node: Node
    x: float
    y: float
    column: int
    row: int


@dataclass(frozen=True)
class Layout:
    """Where every node and edge goes, and the size of the whole drawing."""

    nodes: tuple[Placed, ...]
    edges: tuple[tuple[Placed, Placed], ...]
    width: float
    height: float


def _columns(keys: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the length of its longest path from a source."""
    parents: dict[str, list[str]] = {key: [] for key in keys}
    children: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    waiting = {key: len(parents[key]) for key in keys}
    ready = [key for key in keys if waiting[key] == 0]
    column: dict[str, int] = {}
    while ready:
        key = ready.pop(0)
        column[key] = max((column[parent] + 1 for parent in parents[key]), default=0)
        for child in children[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if len(column) != len(keys):
        cyclic = sorted(key for key in keys if key not in column)
        raise ValueError(f"the graph has a cycle through {', '.join(cyclic)}")
    return column


def _centre(near: list[str], row: dict[str, int], position: int) -> float:
    """The mean row of ``near``, or ``position`` for a node with no such neighbour."""
    return sum(row[key] for key in near) / len(near) if near else float(position)


def _barycentre_order(ranks: list[list[str]], edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """``ranks`` reordered, each column by the mean row of its neighbours in the column
    swept from; a node with no such neighbour keeps its row."""
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for source, target in edges:
        parents.setdefault(target, []).append(source)
        children.setdefault(source, []).append(target)
    ranks = [list(rank) for rank in ranks]

    def sweep(order: list[int], neighbours: dict[str, list[str]]) -> None:
        for index in order:
            row = {key: position for rank in ranks for position, key in enumerate(rank)}
            ranks[index] = [
                key
                for _, _, key in sorted(
                    (_centre(neighbours.get(key, []), row, position), position, key)
                    for position, key in enumerate(ranks[index])
                )
            ]

    for _ in range(SWEEPS):
        sweep(list(range(1, len(ranks))), parents)
        sweep(list(range(len(ranks) - 2, -1, -1)), children)
    return ranks


def layout(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> Layout:
    """Place ``nodes`` in columns so that every edge ``(source key, target key)`` points
    right; ``ValueError`` if an edge names an unknown node or the edges make a cycle."""
    keys = [node.key for node in nodes]
    if len(set(keys)) != len(keys):
        raise ValueError("two nodes have the same key")
    known = set(keys)
    unique_edges = list(dict.fromkeys(edges))
    for source, target in unique_edges:
        if source not in known or target not in known:
            raise ValueError(f"the edge {source} → {target} names a node not in the graph")
    column = _columns(keys, unique_edges)
    ranks: list[list[str]] = [[] for _ in range(max(column.values(), default=-1) + 1)]
    for key in keys:
        ranks[column[key]].append(key)
    ranks = _barycentre_order(ranks, unique_edges)
    tallest = max((len(rank) for rank in ranks), default=0)
    height = 2 * MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    by_key = {node.key: node for node in nodes}
    placed: dict[str, Placed] = {}
    for index, rank in enumerate(ranks):
        used = len(rank) * NODE_HEIGHT + (len(rank) - 1) * ROW_GAP
        top = (height - used) / 2
        for row, key in enumerate(rank):
            placed[key] = Placed(
                node=by_key[key],
                x=MARGIN + index * (NODE_WIDTH + COLUMN_GAP),
                y=top + row * (NODE_HEIGHT + ROW_GAP),
                column=index,
                row=row,
            )
    width = 2 * MARGIN + len(ranks) * NODE_WIDTH + max(len(ranks) - 1, 0) * COLUMN_GAP
    return Layout(
        nodes=tuple(placed[key] for key in keys),
        edges=tuple((placed[source], placed[target]) for source, target in unique_edges),
        width=width,
        height=height,
    )


def _shortened(line: str) -> str:
    return line if len(line) <= LINE_CHARACTERS else line[: LINE_CHARACTERS - 1] + "…"


def _node_svg(placed: Placed) -> str:
    node = placed.node
    lines = [_shortened(line) for line in node.lines[:2]]
    baseline = placed.y + NODE_HEIGHT / 2 + (4 if len(lines) == 1 else -4)
    texts = "".join(
        f'<text x="{placed.x + 10:.1f}" y="{baseline + 16 * index:.1f}" '
        f'class="line{index + 1}">{html.escape(line)}</text>'
        for index, line in enumerate(lines)
    )
    title = node.title or " — ".join(node.lines)
    shape = (
        f'<g class="node {html.escape(node.kind)}" data-key="{html.escape(node.key)}">'
        f"<title>{html.escape(title)}</title>"
        f'<rect x="{placed.x:.1f}" y="{placed.y:.1f}" width="{NODE_WIDTH}" '
        f'height="{NODE_HEIGHT}" rx="6"></rect>{texts}</g>'
    )
    if node.href is None:
        return shape
    return f'<a href="{html.escape(node.href)}">{shape}</a>'


def _edge_svg(source: Placed, target: Placed) -> str:
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT / 2
    x2, y2 = target.x - 2, target.y + NODE_HEIGHT / 2
    bend = max((x2 - x1) / 2, 20)
    return (
        f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} '
        f'{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)"></path>'
    )


def draw(placed: Layout, *, label: str = "graph") -> Markup:
    """The layout as an inline ``<svg class="graph">``; every text is escaped."""
    edges = "".join(_edge_svg(source, target) for source, target in placed.edges)
    nodes = "".join(_node_svg(node) for node in placed.nodes)
    return Markup(
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{html.escape(label)}" viewBox="0 0 {placed.width:.0f} '
        f'{placed.height:.0f}" style="max-width: {placed.width:.0f}px; '
        f'min-width: {placed.width * MIN_SCALE:.0f}px">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#9ca3af"></path></marker></defs>'
        f"{edges}{nodes}</svg>"
    )
