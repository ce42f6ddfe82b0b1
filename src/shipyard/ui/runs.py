"""The runs pages: runs a page at a time, one run with its DAG drawn, runs compared.

What they show is what ``shipyard runs`` prints (``Project.runs``, ``run_record``,
``run_steps``, ``run_values``, ``compare_runs``): pipeline runs and the runs scripts
track with ``shipyard.start_run``, filtered by experiment with a column per metric.
The DAG is the run's executions joined by the artifacts one step made and another
read; a run's metrics logged more than once are drawn as their history
(``metric_history``), by step, or by time when they have no step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import InvalidRequest
from shipyard.monitoring._report_figures import Figure, base_layout, number, plot_text
from shipyard.pipeline.comparison import RunComparison
from shipyard.project import Project
from shipyard.store.records import ExecutionRecord, RunRecord, RunStatus
from shipyard.ui.graph import Node, draw, layout
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

PAGE_SIZE = 50
#: Metrics charted on the comparison page, at most (one small chart each).
MAX_CHARTS = 12
#: Metric columns in a table of runs, at most (the first keys logged), as in the CLI.
MAX_METRIC_COLUMNS = 6
#: Nested runs listed on a run's page, at most (the newest).
MAX_CHILDREN = 200
#: Points drawn per metric history, at most: longer ones are thinned evenly, last kept.
MAX_POINTS = 2000
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


def metric_columns(metrics: dict[int, dict[str, float]]) -> tuple[list[str], int]:
    """The metric keys worth a column in a table of runs (the first logged, at most
    ``MAX_METRIC_COLUMNS``) and how many more keys there are."""
    keys = list(dict.fromkeys(key for values in metrics.values() for key in values))
    return keys[:MAX_METRIC_COLUMNS], max(len(keys) - MAX_METRIC_COLUMNS, 0)


def thinned(count: int, most: int = MAX_POINTS) -> list[int]:
    """Indices of at most ``most`` of ``count`` points, evenly spread, first and last kept.

    >>> thinned(10, 4)
    [0, 3, 6, 9]
    """
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _plot_time(moment: datetime) -> str:
    """A time in UTC as Plotly's date axis reads it (it ignores zone offsets), to the ms."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def history_figure(key: str, points: Sequence[tuple[int | None, float, datetime]]) -> Figure:
    """A line of metric ``key``'s points: value by step, or by time (UTC) when a point
    has no step."""
    by_step = all(step is not None for step, _, _ in points)
    shown = [points[i] for i in thinned(len(points))]
    chart = base_layout(height=260, y_title=plot_text(key))
    chart["title"] = {"text": plot_text(key), "x": 0}
    chart["hovermode"] = "closest"
    chart["showlegend"] = False
    chart["yaxis"]["rangemode"] = "normal"
    if by_step:
        chart["xaxis"] = {"type": "linear", "gridcolor": "#eef0f3", "title": {"text": "step"}}
        x: list[Any] = [step for step, _, _ in shown]
    else:
        chart["xaxis"]["title"] = {"text": "time (UTC)"}
        x = [_plot_time(at) for _, _, at in shown]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers" if len(shown) <= 50 else "lines",
                "x": x,
                "y": [value for _, value, _ in shown],
                "line": {"color": BAR_COLOURS[0], "width": 2},
                "hovertemplate": ("step %{x}" if by_step else "%{x}") + ": %{y}<extra></extra>",
            }
        ],
        "layout": chart,
    }


def history_figures(project: Project, run_id: int) -> dict[str, tuple[str, Figure]]:
    """Element id → (metric, chart) for each metric of the run logged more than once,
    the first ``MAX_CHARTS`` of them in logging order."""
    counts = project.store.tracking.point_counts(run_id)
    drawn = [key for key, count in counts.items() if count > 1][:MAX_CHARTS]
    return {
        f"history-{index}": (key, history_figure(key, project.metric_history(run_id, key)))
        for index, key in enumerate(drawn)
    }


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/runs")
    def runs(
        request: Request,
        pipeline: str = "",
        status: str = "",
        experiment: str = "",
        page: int = Query(1, ge=1),
    ) -> Response:
        found = project.runs(
            limit=PAGE_SIZE + 1,
            pipeline=pipeline.strip() or None,
            status=status or None,
            offset=(page - 1) * PAGE_SIZE,
            experiment=experiment.strip() or None,
        )
        shown = found[:PAGE_SIZE]
        hidden = 0
        if experiment.strip():
            # One experiment's runs log the same metrics: a column for each, as the CLI.
            metrics = project.latest_metrics([run.id for run in shown])
            keys, hidden = metric_columns(metrics)
        else:
            # The metrics the project's gate judges models by are the ones worth a column.
            gate = project.config.evaluation
            keys = list(dict.fromkeys([*gate.thresholds, *gate.change_thresholds]))
            metrics = project.store.tracking.latest_of([run.id for run in shown], keys)
        return ui.pages.render(
            request,
            "runs.html.j2",
            section="/runs",
            runs=shown,
            metric_keys=keys,
            metrics=metrics,
            hidden_metrics=hidden,
            more=len(found) > PAGE_SIZE,
            page=page,
            pipeline=pipeline.strip(),
            experiment=experiment.strip(),
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
        parent: RunRecord | None = None
        if record.parent_id is not None:
            parent = project.run_record(record.parent_id)
        children = project.runs(parent_id=run_id, limit=MAX_CHILDREN + 1)
        child_metrics = project.latest_metrics([child.id for child in children[:MAX_CHILDREN]])
        child_keys, hidden = metric_columns(child_metrics)
        charts = history_figures(project, run_id)
        return ui.pages.render(
            request,
            "run.html.j2",
            section="/runs",
            figures={element: figure for element, (_, figure) in charts.items()},
            charts={element: key for element, (key, _) in charts.items()},
            run=record,
            parent=parent,
            steps=steps,
            graph=run_graph(steps, page=page) if steps else None,
            values=project.run_values(run_id),
            children=children[:MAX_CHILDREN],
            more_children=len(children) > MAX_CHILDREN,
            child_keys=child_keys,
            child_metrics=child_metrics,
            hidden_metrics=hidden,
        )

    return router
