"""Deployments: what serves each model, one deployment's traffic split, its arms compared
and its canary analysis over time; and the buttons that deploy, promote, switch, move
or roll back — each one call on ``project.deployments``, as the CLI makes it.

With no deployment under way the model's page shows its last one (the quickstart ends
with a promoted canary), so its analysis stays in view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shipyard.deployments.comparison import Comparison
from shipyard.errors import InvalidRequest, ModelNotFound, ShipyardError
from shipyard.monitoring._report_figures import base_layout
from shipyard.project import Project
from shipyard.store.records import DeploymentEventRecord, DeploymentRecord
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

ACTOR = "dashboard"
RECENT_ENDED = 5
DEPLOYABLE_VERSIONS = 20
#: The colour of each recorded action's marker on the analysis timeline.
ACTION_COLOURS = {
    "deploy": "#2563eb",
    "advance": "#16a34a",
    "promote": "#15803d",
    "wait": "#ca8a04",
    "failed": "#ea580c",
    "rollback": "#dc2626",
    "percent": "#6366f1",
    "switch": "#6366f1",
}


def known_model(project: Project, name: str) -> None:
    """Raise ``ModelNotFound`` naming ``name`` unless the registry holds it."""
    names = [model.name for model in project.registry.models()]
    if name not in names:
        raise ModelNotFound(
            f"no model named '{name}'; registered models: {', '.join(names) or 'none yet'}"
        )


def split_figure(deployment: DeploymentRecord) -> dict[str, Any]:
    """The share of requests each arm answers (or, for a shadow, copies) as one bar."""
    primary, candidate = f"v{deployment.primary_version}", f"v{deployment.candidate_version}"
    if deployment.strategy == "blue-green":
        live = deployment.live == "candidate"
        shares = [("primary " + primary, 0.0 if live else 100.0)]
        shares.append(("candidate " + candidate, 100.0 if live else 0.0))
    elif deployment.strategy == "shadow":
        shares = [
            ("primary " + primary, 100.0),
            ("shadow copy to " + candidate, deployment.percent),
        ]
    else:
        shares = [
            ("primary " + primary, 100.0 - deployment.percent),
            ("candidate " + candidate, deployment.percent),
        ]
    colours = ["#64748b", "#ea580c"]
    layout = base_layout(height=140, y_title="")
    layout.update(
        barmode="group" if deployment.strategy == "shadow" else "stack",
        hovermode="closest",
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
    )
    layout["xaxis"] = {"range": [0, 100], "title": {"text": "% of requests"}, "ticksuffix": "%"}
    layout["yaxis"] = {"visible": False}
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "x": [share],
                "y": ["traffic"],
                "marker": {"color": colour},
                "text": [f"{share:g}%"],
                "textposition": "inside",
                "hovertemplate": f"{name}: %{{x:g}}%<extra></extra>",
            }
            for (name, share), colour in zip(shares, colours, strict=True)
        ],
        "layout": layout,
    }


def _plot_time(moment: datetime) -> str:
    """A moment as Plotly reads dates: UTC, without an offset (which it does not parse)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _percent(event: DeploymentEventRecord) -> float | None:
    """The share of requests the candidate answered (or copied) after ``event``."""
    state = event.after or event.before or {}
    if state.get("status") == "rolled_back":
        return 0.0
    if state.get("status") == "promoted":
        return 100.0
    if state.get("strategy") == "blue-green":
        return 100.0 if state.get("live") == "candidate" else 0.0
    value = state.get("percent")
    return float(value) if isinstance(value, int | float) else None


def timeline_figure(
    deployment: DeploymentRecord, events: list[DeploymentEventRecord]
) -> dict[str, Any]:
    """The candidate's percent over time as steps, with a marker for every decision."""
    times = [_plot_time(event.created_at) for event in events]
    percents = [_percent(event) for event in events]
    end = deployment.ended_at or datetime.now(UTC)
    layout = base_layout(height=300, y_title="candidate %")
    layout["xaxis"]["title"] = {"text": "time (UTC)"}
    layout["yaxis"].update(range=[0, 105], ticksuffix="%")
    layout["hovermode"] = "closest"
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "percent",
                "x": [*times, _plot_time(end)],
                "y": [*percents, percents[-1] if percents else None],
                "line": {"shape": "hv", "color": "#2563eb"},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "decisions",
                "x": times,
                "y": percents,
                "text": [f"{event.action}: {event.reason}" for event in events],
                "marker": {
                    "size": 11,
                    "color": [ACTION_COLOURS.get(event.action, "#475569") for event in events],
                    "line": {"width": 1, "color": "#ffffff"},
                },
                "hovertemplate": "%{text}<br>%{x}<extra></extra>",
            },
        ],
        "layout": layout,
    }


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/deployments")
    def deployments(request: Request) -> Response:
        models = project.registry.models()
        active = {record.model: record for record in project.deployments.active()}
        ended = {
            model.name: [
                record
                for record in project.deployments.deployments(model.name)[: RECENT_ENDED + 1]
                if not record.active
            ][:RECENT_ENDED]
            for model in models
        }
        return ui.pages.render(
            request,
            "deployments.html.j2",
            section="/deployments",
            models=models,
            active=active,
            ended=ended,
        )

    @router.get("/deployments/{model}")
    def deployment(request: Request, model: str) -> Response:
        current = project.deployments.current(model)  # an unknown model is a 404
        shown = current or next(iter(project.deployments.deployments(model)), None)
        comparison: Comparison | None = None
        events: list[DeploymentEventRecord] = []
        figures: dict[str, Any] = {}
        if shown is not None:
            comparison = project.deployments.compare_deployment(shown)
            events = [e for e in project.deployments.history(model) if e.deployment_id == shown.id]
            figures["timeline-chart"] = timeline_figure(shown, events)
            if shown.active:
                figures["split-chart"] = split_figure(shown)
        production = project.registry.find(model, "production")
        return ui.pages.render(
            request,
            "deployment.html.j2",
            section="/deployments",
            figures=figures,
            model=model,
            current=current,
            shown=shown,
            comparison=comparison,
            events=list(reversed(events)),
            production=production,
            versions=[] if current else project.registry.versions(model, limit=DEPLOYABLE_VERSIONS),
            undo=shown is not None
            and shown.status == "promoted"
            and production is not None
            and production.version == shown.candidate_version,
        )

    async def act(
        request: Request, model: str, action: Callable[[dict[str, str]], str]
    ) -> Response:
        """Check the form, then run ``action`` (its text is the flash); refusals flash."""
        fields = await ui.form(request)
        await run_in_threadpool(known_model, project, model)
        try:
            done = await run_in_threadpool(action, fields)
        except ShipyardError as exc:
            return ui.pages.redirect(request, f"/deployments/{model}", error=str(exc))
        return ui.pages.redirect(request, f"/deployments/{model}", done=done)

    def reason(fields: dict[str, str]) -> str:
        return fields.get("reason", "").strip()

    @router.post("/deployments/{model}/promote")
    async def promote(request: Request, model: str) -> Response:
        def action(fields: dict[str, str]) -> str:
            record = project.deployments.promote(model, reason=reason(fields), actor=ACTOR)
            return f"promoted {model}: v{record.candidate_version} is production"

        return await act(request, model, action)

    @router.post("/deployments/{model}/switch")
    async def switch(request: Request, model: str) -> Response:
        def action(fields: dict[str, str]) -> str:
            record = project.deployments.switch(model, reason=reason(fields), actor=ACTOR)
            return f"switched {model}: {record.describe()}"

        return await act(request, model, action)

    @router.post("/deployments/{model}/rollback")
    async def rollback(request: Request, model: str) -> Response:
        def action(fields: dict[str, str]) -> str:
            project.deployments.rollback(model, reason=reason(fields), actor=ACTOR)
            production = project.registry.resolve(f"{model}@production").version
            return f"rolled back {model}: v{production} serves all requests"

        return await act(request, model, action)

    @router.post("/deployments/{model}/percent")
    async def percent(request: Request, model: str) -> Response:
        def action(fields: dict[str, str]) -> str:
            share = _number(fields, "percent")
            if share is None:
                raise InvalidRequest("give the percent of requests", field="percent")
            record = project.deployments.set_percent(
                model, share, reason=reason(fields), actor=ACTOR
            )
            return f"moved {model}: {record.describe()}"

        return await act(request, model, action)

    @router.post("/deployments/{model}/deploy")
    async def deploy(request: Request, model: str) -> Response:
        def action(fields: dict[str, str]) -> str:
            version = fields.get("version", "").strip()
            if not version.isdigit():
                raise InvalidRequest(f"version must be a number, not {version!r}", field="version")
            strategy = fields.get("strategy", "canary")
            record = project.deployments.deploy(
                model,
                int(version),
                strategy=strategy,
                percent=None if strategy == "blue-green" else _number(fields, "percent"),
                force=fields.get("force") == "yes",
                reason=reason(fields),
                actor=ACTOR,
            )
            return f"deployed {model}: {record.describe()}"

        return await act(request, model, action)

    return router


def _number(fields: dict[str, str], name: str) -> float | None:
    """The form's ``name`` as a number; None when left empty."""
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number, not {text!r}", field=name) from None
