"""The lineage page: where a run, an artifact, a model version, a dataset version or a
prediction came from (or, from an artifact, what was made of it), drawn as a graph.

The graph is ``Project.lineage``'s, as ``shipyard lineage`` prints it as a tree: steps
and artifacts joined the way data flowed, the dataset versions beside the steps that
ingested them, and for a model or a prediction the version (and the answer) at the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import RecordNotFound
from shipyard.prediction_lineage import PredictionLineage
from shipyard.store import LineageGraph
from shipyard.store.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord
from shipyard.ui.graph import Node, draw, layout
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

#: Nodes drawn at most; a larger graph keeps those nearest to where it ends.
MAX_NODES = 200

Direction = Literal["upstream", "downstream"]


@dataclass
class _Drawing:
    """Nodes and edges collected from a lineage, before they are laid out."""

    prefix: str
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]

    def add(self, node: Node) -> None:
        self.nodes.setdefault(node.key, node)

    def link(self, source: str, target: str) -> None:
        if (source, target) not in self.edges:
            self.edges.append((source, target))

    def lineage_href(self, ref: str) -> str:
        return f"{self.prefix}/lineage?ref={quote(ref, safe=':@')}"


def _artifact_node(drawing: _Drawing, artifact: ArtifactRecord, *, root: bool) -> Node:
    return Node(
        key=artifact.ref,
        lines=(artifact.type_name, f"{artifact.digest[:12]} · #{artifact.id}"),
        kind="artifact root" if root else "artifact",
        href=drawing.lineage_href(artifact.ref),
        title=f"{artifact.type_name} {artifact.ref} sha256:{artifact.digest}",
    )


def _dataset_node(drawing: _Drawing, version: DatasetVersionRecord) -> Node:
    return Node(
        key=f"dataset:{version.id}",
        lines=(f"dataset {version.name}", f"v{version.id} · {version.rows:,} rows"),
        kind="dataset",
        href=drawing.lineage_href(f"dataset:{version.id}"),
        title=(
            f"dataset version {version.id}: {version.name} sha256:{version.digest[:12]} "
            f"({version.rows:,} rows × {version.columns} columns) from {version.source}"
        ),
    )


def _model_node(drawing: _Drawing, version: ModelVersionRecord) -> Node:
    aliases = ", ".join(version.aliases) or ("blessed" if version.blessed else "not blessed")
    return Node(
        key=f"model:{version.ref}",
        lines=(f"model {version.ref}", aliases),
        kind="model",
        href=f"{drawing.prefix}/models/{quote(version.model)}/{version.version}",
    )


def _add_graph(
    drawing: _Drawing, graph: LineageGraph, also: DatasetVersionRecord | None = None
) -> None:
    for artifact in graph.artifacts.values():
        drawing.add(_artifact_node(drawing, artifact, root=artifact.ref == graph.root))
    for execution in graph.executions.values():
        component = execution.component.replace(":", ".").rpartition(".")[2]
        drawing.add(
            Node(
                key=f"execution:{execution.id}",
                lines=(execution.step, f"{component} · run {execution.run_id}"),
                kind=execution.status,
                href=f"{drawing.prefix}/runs/{execution.run_id}#step-{quote(execution.step)}",
                title=f"step {execution.step} (execution {execution.id} of run "
                f"{execution.run_id}): {execution.status}",
            )
        )
    for source, target in sorted(graph.edges):
        drawing.link(source, target)
    held = [(artifact_id, versions) for artifact_id, versions in graph.datasets.items()]
    if also is not None and all(also not in versions for _, versions in held):
        held.append((also.examples_id, [also]))
    for artifact_id, versions in held:
        ref = f"artifact:{artifact_id}"
        # Beside the step that ingested it, as `shipyard lineage` shows it.
        beneath = next(iter(graph.parents(ref)), ref if ref in drawing.nodes else None)
        for version in versions:
            drawing.add(_dataset_node(drawing, version))
            if beneath is not None:
                drawing.link(f"dataset:{version.id}", beneath)


def _nearest(drawing: _Drawing, *, downstream: bool) -> tuple[list[Node], list[tuple[str, str]]]:
    """At most ``MAX_NODES`` nodes: those fewest edges away from where the graph ends
    (its sinks upstream, its sources downstream); the edges between them."""
    nodes = drawing.nodes
    if len(nodes) <= MAX_NODES:
        return list(nodes.values()), drawing.edges
    back: dict[str, list[str]] = {key: [] for key in nodes}
    has_next: set[str] = set()
    for source, target in drawing.edges:
        before, after = (target, source) if downstream else (source, target)
        back[after].append(before)
        has_next.add(before)
    queue = deque(key for key in nodes if key not in has_next)
    kept: dict[str, None] = dict.fromkeys(queue)
    while queue and len(kept) < MAX_NODES:
        for neighbour in back[queue.popleft()]:
            if neighbour not in kept and len(kept) < MAX_NODES:
                kept[neighbour] = None
                queue.append(neighbour)
    chosen = list(kept)[:MAX_NODES]
    inside = set(chosen)
    edges = [(s, t) for s, t in drawing.edges if s in inside and t in inside]
    return [nodes[key] for key in chosen], edges


def _target_ref(project_ref: str, ui: Dashboard) -> tuple[str, ModelVersionRecord | None]:
    """The reference ``Project.lineage`` takes for ``project_ref``, and the model version
    it names if it names one (a dataset version is its examples' artifact)."""
    kind, _, value = project_ref.partition(":")
    if kind == "dataset":
        if not value.isdigit():
            raise RecordNotFound(f"'{project_ref}' is not a dataset version; use dataset:ID")
        return f"artifact:{ui.project.dataset_version(int(value)).examples_id}", None
    named_model = "@" in project_ref or (
        value.isdigit() and kind not in ("run", "artifact", "prediction")
    )
    if named_model:
        return project_ref, ui.project.registry.resolve(project_ref)
    return project_ref, None


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/lineage")
    def lineage(request: Request, ref: str = "", direction: Direction = "upstream") -> Response:
        ref = ref.strip()
        if not ref:
            return ui.pages.render(request, "lineage.html.j2", section="/lineage", ref="")
        drawing = _Drawing(prefix=request.scope.get("root_path", ""), nodes={}, edges=[])
        target, model = _target_ref(ref, ui)
        found = project.lineage(target, direction=direction)
        traced: PredictionLineage | None = None
        if isinstance(found, PredictionLineage):
            traced = found
            _add_graph(drawing, found.graph, also=found.dataset_version)
            model = found.model_version
            prediction = found.prediction
            answer = f"prediction:{prediction.prediction_id}"
            drawing.add(
                Node(
                    key=answer,
                    lines=("prediction", prediction.prediction_id),
                    kind="prediction root",
                    href=f"{drawing.prefix}/predictions/{quote(prediction.prediction_id)}",
                    title=f"prediction {prediction.prediction_id} by {model.ref}",
                )
            )
            drawing.link(f"model:{model.ref}", answer)
        else:
            _add_graph(drawing, found)
        if model is not None and direction == "upstream":
            drawing.add(_model_node(drawing, model))
            drawing.link(model.package.ref, f"model:{model.ref}")
        nodes, edges = _nearest(drawing, downstream=direction == "downstream")
        graph = draw(layout(nodes, edges), label=f"lineage of {ref}") if nodes else None
        return ui.pages.render(
            request,
            "lineage.html.j2",
            section="/lineage",
            ref=ref,
            direction=direction,
            graph=graph,
            shown=len(nodes),
            total=len(drawing.nodes),
            can_flip=not isinstance(found, PredictionLineage)
            and found.root.startswith("artifact:"),
            traced=traced,
            model=model,
            kinds=_kinds(nodes),
        )

    return router


def _kinds(nodes: Sequence[Node]) -> list[str]:
    """The kinds of node drawn, for the legend."""
    return sorted({node.kind.split()[0] for node in nodes if node.kind})
