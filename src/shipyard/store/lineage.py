"""Lineage: which data and steps produced an artifact, and what was made from it.

A cached step replays an earlier computation; lineage follows the execution that really
computed an artifact (the earliest successful, non-cached one) so that re-running a
pipeline does not multiply the graph.  A run's own graph includes its cached steps.
The walks read through a ``StoreReader`` (``MetadataStore.reader``, or one a command
that only reads opened on its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.store.reader import INPUT, StoreReader
from shipyard.store.records import (
    DATASETS_PROPERTY,
    ArtifactRecord,
    DatasetVersionRecord,
    ExecutionRecord,
)


@dataclass
class LineageGraph:
    """Artifacts and executions joined by edges ``(from_ref, to_ref)``.

    Refs are ``artifact:ID`` and ``execution:ID``; edges point the way data flowed.
    ``datasets`` holds, by artifact id, the dataset versions an artifact of the graph
    holds: ExampleGen's examples hold the source's version and, when labelled
    predictions joined training, theirs.
    """

    root: str
    artifacts: dict[int, ArtifactRecord] = field(default_factory=dict)
    executions: dict[int, ExecutionRecord] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    datasets: dict[int, list[DatasetVersionRecord]] = field(default_factory=dict)

    def parents(self, ref: str) -> list[str]:
        return sorted(source for source, target in self.edges if target == ref)

    def children(self, ref: str) -> list[str]:
        return sorted(target for source, target in self.edges if source == ref)

    def final_steps(self) -> list[str]:
        """Where a run's graph ends: its executions whose outputs no step here consumed.

        For a run's graph (root ``run:ID``), these are the refs a tree of the run starts
        from; for an artifact's graph, the root itself.
        """
        kind, _, number = self.root.partition(":")
        if kind != "run":
            return [self.root]
        consumed = {source for source, _ in self.edges}
        return [
            f"execution:{execution.id}"
            for execution in sorted(self.executions.values(), key=lambda e: e.id)
            if execution.run_id == int(number)
            and not any(artifact.ref in consumed for artifact in execution.outputs.values())
        ]

    def _add_execution(self, execution: ExecutionRecord) -> None:
        self.executions[execution.id] = execution
        node = f"execution:{execution.id}"
        for artifact in execution.inputs.values():
            self.artifacts[artifact.id] = artifact
            self.edges.add((artifact.ref, node))
        for artifact in execution.outputs.values():
            self.artifacts[artifact.id] = artifact
            self.edges.add((node, artifact.ref))


def _producers(store: StoreReader, artifact_ids: set[int]) -> list[ExecutionRecord]:
    # The execution that computed the bytes, not the later cache replays.
    return store.get_executions(set(store.first_producers(artifact_ids).values()))


def _walk_up(store: StoreReader, graph: LineageGraph, frontier: set[int]) -> LineageGraph:
    seen_artifacts: set[int] = set()
    while frontier:
        seen_artifacts |= frontier
        producers = [e for e in _producers(store, frontier) if e.id not in graph.executions]
        frontier = set()
        for execution in producers:
            graph._add_execution(execution)
            frontier |= {a.id for a in execution.inputs.values()} - seen_artifacts
    return _with_datasets(store, graph)


def _with_datasets(store: StoreReader, graph: LineageGraph) -> LineageGraph:
    for artifact in graph.artifacts.values():
        ids = artifact.properties.get(DATASETS_PROPERTY) or []
        if ids:
            graph.datasets[artifact.id] = [store.dataset_version(int(i)) for i in ids]
    return graph


def upstream(store: StoreReader, root: ArtifactRecord | int) -> LineageGraph:
    """The graph of everything an artifact (or every artifact of a run) came from.

    ``root`` is an ``ArtifactRecord`` or a run id.
    """
    if isinstance(root, ArtifactRecord):
        graph = LineageGraph(root=root.ref, artifacts={root.id: root})
        return _walk_up(store, graph, {root.id})
    graph = LineageGraph(root=f"run:{root}")
    executions = store.run_executions(root)
    for execution in executions:
        graph._add_execution(execution)
    made_here = {a.id for e in executions for a in e.outputs.values()}
    consumed = {a.id for e in executions for a in e.inputs.values()}
    return _walk_up(store, graph, consumed - made_here)


def downstream(store: StoreReader, root: ArtifactRecord) -> LineageGraph:
    """The graph of everything computed from an artifact."""
    graph = LineageGraph(root=root.ref, artifacts={root.id: root})
    frontier = {root.id}
    seen: set[int] = set()
    while frontier:
        seen |= frontier
        events = store.artifact_events(frontier, direction=INPUT)
        consumers = store.get_executions({execution_id for execution_id, _, _ in events})
        frontier = set()
        for execution in consumers:
            if execution.status == "cached" or execution.id in graph.executions:
                continue
            graph._add_execution(execution)
            frontier |= {a.id for a in execution.outputs.values()} - seen
    return _with_datasets(store, graph)
