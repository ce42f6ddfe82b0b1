"""The runs pages: runs a page at a time, one run with its DAG drawn, runs compared.

What they show is what ``shipyard runs`` prints (``Project.runs``, ``run_record``,
``run_steps``, ``compare_runs`` and the run's logged parameters and metrics); the DAG
is the run's executions joined by the artifacts one step made and another read.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import InvalidRequest
from shipyard.monitoring._report_figures import Figure, base_layout, number, plot_text
from shipyard.pipeline.comparison import RunComparison
from shipyard.store.records import ExecutionRecord, RunStatus
from shipyard.ui.graph import Node, draw, layout
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

PAGE_SIZE = 50
#: Metrics charted on the comparison page, at most (one small chart each).
MAX_CHARTS = 12
BAR_COLOURS = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#64748b", "#dc2626")


def _step_node(step: ExecutionRecord, prefix: str) -> Node:
    component = step.component.replace(":", ".").rpartition(".")[2]
    took = "cached" if step.status == "cached" else _took(step)
    return Node(
        key=step.step,
        lines=(step.step, f"{component} · {took}"),
        kind=step.status,
        href=f"{prefix}#step-{step.step}",
        title=f"{step.step} ({step.component}): {step.status}, {took}",
    )


def _took(step: ExecutionRecord) -> str:
    if step.duration is None:
        return step.status
    seconds = step.duration
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def run_graph(steps: list[ExecutionRecord], *, page: str) -> Any:
    """The run's steps as an SVG DAG: an edge from the step that made an artifact to
    each step of the run that read it; nodes link to their row on ``page``."""
    made_by = {artifact.id: step.step for step in steps for artifact in step.outputs.values()}
    edges = [
        (made_by[artifact.id], step.step)
        for step in steps
        for artifact in step.inputs.values()
        if artifact.id in made_by and made_by[artifact.id] != step.step
    ]
    nodes = [_step_node(step, page) for step in steps]
    return draw(layout(nodes, edges), label="the run's steps and the artifacts between them")


def _run_ids(ids: list[str]) -> list[int]:
    numbers: list[int] = []
    for value in ids:
        for part in value.replace(",", " ").split():
            if not part.isdigit():
                raise InvalidRequest(f"'{part}' is not a run id", field="ids")
            numbers.append(int(part))
    unique = list(dict.fromkeys(numbers))
    if len(unique) < 2:
        raise InvalidRequest(
            "give at least two runs to compare: tick them on the runs page, then Compare",
            field="ids",
        )
    return unique


def _metric_figures(comparison: RunComparison) -> dict[str, Figure]:
    """One bar chart per metric every compared run logged, those that differ first."""
    labels = [plot_text(f"run {run.id}") for run in comparison.runs]
    figures: dict[str, Figure] = {}
    shared = [
        row
        for row in comparison.rows
        if row.kind == "metric" and all(number(value) is not None for value in row.values)
    ]
    shared.sort(key=lambda row: not row.differs)  # what changed first
    for index, row in enumerate(shared[:MAX_CHARTS]):
        name = row.key.removeprefix("metric ")
        chart = base_layout(height=260, y_title=plot_text(name))
        chart["xaxis"] = {"type": "category"}
        chart["hovermode"] = "closest"
        chart["showlegend"] = False
        chart["title"] = {"text": plot_text(name), "x": 0}
        chart["yaxis"]["rangemode"] = "normal"
        figures[f"metric-{index}"] = {
            "data": [
                {
                    "type": "bar",
                    "x": labels,
                    "y": [number(value) for value in row.values],
                    "marker": {
                        "color": [BAR_COLOURS[i % len(BAR_COLOURS)] for i in range(len(labels))]
                    },
                    "hovertemplate": "%{x}: %{y}<extra></extra>",
                }
            ],
            "layout": chart,
        }
    return figures


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/runs")
    def runs(
        request: Request, pipeline: str = "", status: str = "", page: int = Query(1, ge=1)
    ) -> Response:
        found = project.runs(
            limit=PAGE_SIZE + 1,
            pipeline=pipeline.strip() or None,
            status=status or None,
            offset=(page - 1) * PAGE_SIZE,
        )
        # The metrics the project's gate judges models by are the ones worth a column.
        gate = project.config.evaluation
        keys = list(dict.fromkeys([*gate.thresholds, *gate.change_thresholds]))
        metrics = project.store.tracking.latest_of([run.id for run in found], keys)
        return ui.pages.render(
            request,
            "runs.html.j2",
            section="/runs",
            runs=found[:PAGE_SIZE],
            metric_keys=keys,
            metrics=metrics,
            more=len(found) > PAGE_SIZE,
            page=page,
            pipeline=pipeline.strip(),
            chosen_status=status,
            statuses=get_args(RunStatus),
        )

    @router.get("/runs/compare")
    def compare(request: Request, ids: Annotated[list[str], Query()] = []) -> Response:  # noqa: B006
        comparison = project.compare_runs(_run_ids(ids))
        figures = _metric_figures(comparison)
        return ui.pages.render(
            request,
            "run_compare.html.j2",
            section="/runs",
            figures=figures,
            figure_ids=list(figures),
            comparison=comparison,
        )

    @router.get("/runs/{run_id}")
    def run(request: Request, run_id: int) -> Response:
        record = project.run_record(run_id)
        steps = project.run_steps(run_id)
        page = request.scope.get("root_path", "") + f"/runs/{run_id}"
        return ui.pages.render(
            request,
            "run.html.j2",
            section="/runs",
            run=record,
            steps=steps,
            graph=run_graph(steps, page=page) if steps else None,
            logged=project.store.tracking.params(run_id),
            metrics=project.store.tracking.latest_metrics(run_id),
        )

    return router
