"""``shipyard run``, ``shipyard runs`` and ``shipyard lineage``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from shipyard.cli.console import console, seconds, size, styled_status, when
from shipyard.cli.project import open_project
from shipyard.cli.usage import parsed_by

if TYPE_CHECKING:
    from shipyard.pipeline import Pipeline, RunResult, StepResult
    from shipyard.pipeline.comparison import RunComparison
    from shipyard.prediction_lineage import PredictionLineage
    from shipyard.project import Project
    from shipyard.store import LineageGraph
    from shipyard.store.records import (
        ArtifactRecord,
        DatasetVersionRecord,
        ExecutionRecord,
        RunRecord,
        RunValues,
    )


def _pipeline_ref(text: str) -> tuple[str, str]:
    # The pipeline package loads the store; parsing a reference needs neither.
    from shipyard.pipeline.dag import split_pipeline_ref

    return split_pipeline_ref(text)


def _steps_table(pipeline: Pipeline, results: dict[str, StepResult]) -> Table:
    from shipyard.pipeline import StepResult

    table = Table(title=f"pipeline [bold]{pipeline.name}[/]", title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("outputs / error", overflow="fold")
    for step in pipeline.order():
        result = results.get(step.name, StepResult(step.name))
        detail = result.error or ", ".join(
            f"{port}={a.type_name}:{a.digest[:10]}" for port, a in result.outputs.items()
        )
        status = styled_status(result.status)
        if result.status == "cached" and result.cached_from is not None:
            status += f" [dim](from execution {result.cached_from})[/]"
        if result.attempts > 1:
            status += f" [dim](attempt {result.attempts})[/]"
        table.add_row(step.name, status, seconds(result.seconds), detail)
    return table


def run_with_progress(project: Project, pipeline: Pipeline, *, cache: bool | None) -> RunResult:
    """Run a pipeline showing each step's status live; print the summary at the end."""
    results: dict[str, StepResult] = {}
    started = time.perf_counter()
    with Live(_steps_table(pipeline, results), console=console, auto_refresh=False) as live:

        def observe(result: StepResult) -> None:
            results[result.name] = result
            live.update(_steps_table(pipeline, results), refresh=True)

        outcome = project.run(pipeline, cache=cache, observer=observe)
        live.update(_steps_table(pipeline, outcome.steps), refresh=True)
    console.line()
    ran = len(outcome.names("succeeded"))
    cached = len(outcome.names("cached"))
    summary = (
        f"run [bold]{outcome.run.id}[/] {styled_status(outcome.run.status)} in "
        f"{seconds(time.perf_counter() - started)}: {ran} ran, {cached} cached"
    )
    failed = outcome.names("failed")
    skipped = outcome.names("skipped")
    if failed:
        summary += f", {len(failed)} failed, {len(skipped)} skipped"
    console.print(summary)
    return outcome


def run_standard(project: Project, *, cache: bool | None) -> RunResult:
    """Run the project's standard pipeline and print what each stage found."""
    from shipyard.cli.summary import print_summary
    from shipyard.components.summary import summarize

    outcome = run_with_progress(project, project.standard_pipeline(), cache=cache)
    print_summary(summarize(outcome, registry=project.registry))
    outcome.raise_for_failure()
    return outcome


def run(
    target: Annotated[
        str | None,
        typer.Argument(
            help="MODULE:PIPELINE or path/file.py:PIPELINE (default: the standard pipeline)",
            callback=parsed_by(_pipeline_ref),
        ),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-run every step.")] = False,
) -> None:
    """Run the project's standard pipeline, or a pipeline defined in Python."""
    cache = False if no_cache else None
    with open_project() as project:
        if target is None:
            run_standard(project, cache=cache)
            return
        from shipyard.pipeline import load_pipeline

        pipeline = load_pipeline(target, folder=Path.cwd())
        outcome = run_with_progress(project, pipeline, cache=cache)
    outcome.raise_for_failure()


MAX_METRIC_COLUMNS = 6


def _runs_table(records: list[RunRecord], metrics: dict[int, dict[str, float]]) -> Table:
    """Runs, one per row; with ``metrics``, a column for each of the first metrics."""
    keys = list(dict.fromkeys(key for values in metrics.values() for key in values))
    shown = keys[:MAX_METRIC_COLUMNS]
    table = Table(title="runs", title_justify="left")
    for column in ("id", "run", "experiment", "status", "started", "duration", "code"):
        table.add_column(column, justify="right" if column in ("id", "duration") else "left")
    for key in shown:
        table.add_column(key, justify="right")
    for record in records:
        code = "-"
        if record.code_version:
            code = record.code_version[:10] + (" (dirty)" if record.code_dirty else "")
        values = metrics.get(record.id, {})
        table.add_row(
            str(record.id),
            escape(record.label) + ("" if record.kind == "pipeline" else f" [dim]{record.kind}[/]"),
            escape(record.experiment or "-"),
            styled_status(record.status),
            when(record.started_at),
            seconds(record.duration),
            code,
            *(f"{values[key]:.6g}" if key in values else "" for key in shown),
        )
    if len(keys) > len(shown):
        table.caption = f"{len(keys) - len(shown)} more metrics: shipyard runs --compare"
    return table


def _values_table(values: RunValues) -> Table:
    table = Table(title="logged", title_justify="left")
    table.add_column("")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for kind, items in (("param", values.params), ("metric", values.metrics),
                        ("tag", values.tags)):  # fmt: skip
        for key, value in items.items():
            shown = f"{value:.6g}" if kind == "metric" else repr(value)
            table.add_row(kind, escape(key), escape(shown))
    return table


def _run_detail(
    record: RunRecord,
    steps: list[ExecutionRecord],
    values: RunValues,
    children: list[RunRecord],
    child_metrics: dict[int, dict[str, float]],
) -> Group:
    header = Table.grid(padding=(0, 2))
    header.add_row("run", f"[bold]{record.id}[/] ({escape(record.label)}, {record.kind})")
    header.add_row("experiment", escape(record.experiment or "-"))
    if record.parent_id is not None:
        header.add_row("nested in", f"run {record.parent_id}")
    header.add_row("status", styled_status(record.status))
    header.add_row("started", when(record.started_at))
    header.add_row("duration", seconds(record.duration))
    code = record.code_version or "not in a git checkout"
    if record.code_dirty:
        code += " (uncommitted changes)"
    header.add_row("code", code)
    packages = record.environment.get("packages", {})
    header.add_row(
        "environment",
        f"Python {record.environment.get('python', '?')}, "
        + ", ".join(f"{name} {version}" for name, version in packages.items()),
    )
    if record.error:
        header.add_row("error", f"[red]{record.error}[/]")
    table = Table(title="steps", title_justify="left")
    for column in ("step", "status", "time", "attempts", "params", "inputs", "outputs"):
        table.add_column(column, overflow="fold")
    for step in steps:
        status = styled_status(step.status)
        if step.cached_from_id is not None:
            status += f" [dim](cache hit of execution {step.cached_from_id})[/]"
        table.add_row(
            step.step,
            status,
            seconds(step.duration),
            str(step.attempts),
            ", ".join(f"{k}={v!r}" for k, v in step.params.items()),
            ", ".join(f"{port}={a.ref}" for port, a in step.inputs.items()),
            ", ".join(f"{port}={a.ref}" for port, a in step.outputs.items()),
        )
    parts: list[Table | str] = [header, table] if steps else [header]
    if values.params or values.metrics or values.tags:
        parts.append(_values_table(values))
    if children:
        nested = _runs_table(children, child_metrics)
        nested.title = "nested runs"
        parts.append(nested)
    for step in steps:
        if step.status == "failed" and step.traceback:
            parts.append(f"[bold red]step {step.step} failed:[/]\n{step.traceback.rstrip()}")
    return Group(*parts)


def _comparison_table(comparison: RunComparison) -> Table:
    table = Table(title="runs compared", title_justify="left")
    table.add_column("")
    for record in comparison.runs:
        table.add_column(f"run {record.id}", justify="right", overflow="fold")
    for row in comparison.rows:
        cells = []
        for record, value in zip(comparison.runs, row.values, strict=True):
            if value is None:
                cells.append("-" if row.key == "code" else "")
            elif row.key == "code":
                cells.append(value[:10] + (" *" if record.code_dirty else ""))
            elif row.kind == "data":
                cells.append(value[:12])
            elif row.kind == "metric":
                cells.append(f"{value:.6g}")
            else:
                cells.append(str(value))
        table.add_row(f"[bold]{row.key}[/]" if row.differs else row.key, *cells)
    table.caption = "rows in bold differ between the runs"
    return table


def runs(
    run_ids: Annotated[
        list[int] | None, typer.Argument(help="A run to show, or runs to compare.")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare the runs' parameters and metrics.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 20,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="List this experiment's runs, with their metrics."),
    ] = None,
) -> None:
    """List runs, show one (steps, logged values, nested runs) or compare several.

    Pipeline runs and runs of shipyard.start_run, in one list.

    shipyard runs · shipyard runs -e churn · shipyard runs 3 · shipyard runs --compare 3 4 5
    """
    ids = run_ids or []
    if compare and len(ids) < 2:
        raise typer.BadParameter("give at least two run ids to compare", param_hint="--compare")
    if not compare and len(ids) > 1:
        raise typer.BadParameter(
            "give one run id, or add --compare to see several side by side", param_hint="RUN_IDS"
        )
    with open_project() as project:
        if compare:
            console.print(_comparison_table(project.compare_runs(ids)))
        elif not ids:
            listed = project.runs(limit=limit, experiment=experiment)
            metrics = {} if experiment is None else project.latest_metrics([r.id for r in listed])
            console.print(_runs_table(listed, metrics))
        else:
            run_id = ids[0]
            children = project.runs(parent_id=run_id, limit=limit)
            console.print(
                _run_detail(
                    project.run_record(run_id),
                    project.run_steps(run_id),
                    project.run_values(run_id),
                    children,
                    project.latest_metrics([child.id for child in children]),
                )
            )


def _artifact_label(artifact: ArtifactRecord) -> str:
    label = (
        f"[cyan]{artifact.type_name}[/] {artifact.ref} [dim]sha256:{artifact.digest[:12]} "
        f"{artifact.kind}, {size(artifact.size)}[/]"
    )
    properties = artifact.properties
    if "source_digest" in properties:
        label += (
            f" — dataset [bold]{properties.get('dataset', '?')}[/] version "
            f"sha256:{properties['source_digest'][:12]} from {properties.get('source', '?')}"
        )
    return label


def _execution_label(execution: ExecutionRecord) -> str:
    return (
        f"[bold]step {execution.step}[/] [dim]execution {execution.id} of run "
        f"{execution.run_id}[/] {styled_status(execution.status)}"
    )


Leaves = dict[str, list[str]]  # lines to show beneath a node, by its ref


def _dataset_label(version: DatasetVersionRecord, holder: ArtifactRecord | None) -> str:
    label = (
        f"[bold]dataset version {version.id}[/]: {escape(version.name)} "
        f"sha256:{version.digest[:12]} ({version.rows:,} rows × {version.columns} "
        f"columns) from {escape(version.source)}"
    )
    properties = {} if holder is None else holder.properties
    if properties.get("feedback_digest") == version.digest:
        counts = properties.get("feedback_sources") or {}
        shown = ", ".join(f"{escape(str(k))} {v:,}" for k, v in sorted(counts.items()))
        label += f" — {properties.get('feedback_rows', 0):,} labelled predictions ({shown})"
    return label


def _dataset_leaves(graph: LineageGraph, also: DatasetVersionRecord | None = None) -> Leaves:
    """The dataset versions of ``graph`` beneath the steps that ingested them (or their
    examples, if that step is unknown); ``also`` is shown if the graph lacks it."""
    leaves: Leaves = {}
    held = {version.id for versions in graph.datasets.values() for version in versions}
    found = [(graph.artifacts.get(i), i, versions) for i, versions in graph.datasets.items()]
    if also is not None and also.id not in held:
        found.append((graph.artifacts.get(also.examples_id), also.examples_id, [also]))
    for holder, artifact_id, versions in found:
        ref = f"artifact:{artifact_id}"
        beneath = (graph.parents(ref) or [ref])[0]
        leaves.setdefault(beneath, []).extend(_dataset_label(v, holder) for v in versions)
    return leaves


def _graph_trees(graph: LineageGraph, *, downstream: bool, leaves: Leaves) -> list[Tree]:
    """Trees of ``graph`` from its final steps (a run's) or its root, along its edges."""
    follow = graph.children if downstream else graph.parents
    shown: set[str] = set()

    def label(ref: str) -> str:
        kind, _, number = ref.partition(":")
        if kind == "artifact":
            return _artifact_label(graph.artifacts[int(number)])
        return _execution_label(graph.executions[int(number)])

    def grow(node: Tree, ref: str) -> Tree:
        for line in leaves.get(ref, []):
            node.add(line)
        for next_ref in follow(ref):
            if next_ref in shown:
                node.add(label(next_ref) + " [dim](shown above)[/]")
                continue
            shown.add(next_ref)
            grow(node.add(label(next_ref)), next_ref)
        return node

    shown.update(graph.final_steps())
    return [grow(Tree(label(start)), start) for start in graph.final_steps()]


def _lineage_tree(graph: LineageGraph, *, downstream: bool) -> Tree:
    trees = _graph_trees(graph, downstream=downstream, leaves=_dataset_leaves(graph))
    if not graph.root.startswith("run:"):
        return trees[0]
    tree = Tree(f"[bold]{graph.root.replace(':', ' ')}[/]")
    tree.children.extend(trees)
    return tree


def _prediction_tree(lineage: PredictionLineage) -> Tree:
    """The chain from a prediction down to the dataset version its model learned from."""
    prediction, version, run = lineage.prediction, lineage.model_version, lineage.run
    tree = Tree(
        f"[bold]prediction {escape(prediction.prediction_id)}[/] by "
        f"{escape(version.ref)} ({escape(prediction.variant)}) at {when(prediction.timestamp)}"
    )
    aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
    node = tree.add(
        f"[bold]model {escape(version.ref)}[/]{escape(aliases)} registered "
        f"{when(version.created_at)}, {'blessed' if version.blessed else 'not blessed'}"
    )
    if run is not None:
        code = lineage.code_version or "not in a git checkout"
        if run.code_dirty:
            code += " (uncommitted changes)"
        node = node.add(
            f"[bold]run {run.id}[/] ({escape(run.pipeline)}) {styled_status(run.status)} "
            f"{when(run.started_at)}, code {escape(code)}"
        )
    leaves = _dataset_leaves(lineage.graph, also=lineage.dataset_version)
    node.children.extend(_graph_trees(lineage.graph, downstream=False, leaves=leaves))
    return tree


def lineage(
    ref: Annotated[
        str,
        typer.Argument(
            help="run:ID, artifact:ID, a digest prefix, NAME@ALIAS, NAME:VERSION or a prediction id"
        ),
    ],
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Show what was made from it instead.")
    ] = False,
) -> None:
    """Show where a prediction, a model, an artifact or a run came from as a tree.

    With --downstream, what was made from an artifact instead.
    """
    from shipyard.prediction_lineage import PredictionLineage

    with open_project() as project:
        found = project.lineage(ref, direction="downstream" if downstream else "upstream")
    if isinstance(found, PredictionLineage):
        console.print(_prediction_tree(found))
    else:
        console.print(_lineage_tree(found, downstream=downstream))


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(runs)
    app.command()(lineage)
