"""The overview: models and what serves, rollouts under way, open alerts, review waiting,
the latest runs; and ``/find``, which takes any reference to the page that shows it."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import RecordNotFound
from shipyard.store.records import ArtifactRecord, RunRecord
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

RECENT_RUNS = 8
RECENT_ALERTS = 10


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/")
    def overview(request: Request) -> Response:
        models = project.registry.models()
        deployments = {record.model: record for record in project.deployments.active()}
        depth = {entry.model: entry for entry in project.review.depth()}
        open_alerts = project.store.monitoring.alerts(status="open")
        alerts_by_model: dict[str, int] = {}
        for alert in open_alerts:
            alerts_by_model[alert.model] = alerts_by_model.get(alert.model, 0) + 1
        return ui.pages.render(
            request,
            "overview.html.j2",
            section="/",
            models=models,
            deployments=deployments,
            depth=depth,
            alerts=open_alerts[:RECENT_ALERTS],
            open_alerts=len(open_alerts),
            alerts_by_model=alerts_by_model,
            waiting=sum(entry.open + entry.disputed for entry in depth.values()),
            runs=project.runs(limit=RECENT_RUNS),
        )

    @router.get("/find")
    def find(request: Request, ref: str = "") -> Response:
        ref = ref.strip()
        if not ref:
            return ui.pages.redirect(request, "/")
        name, _, version = ref.partition(":")
        if "@" in ref or (version.isdigit() and name not in ("run", "artifact")):
            record = project.registry.resolve(ref)
            return ui.pages.redirect(request, f"/models/{record.model}/{record.version}")
        try:
            target = project.resolve(ref)
        except RecordNotFound as exc:
            return ui.pages.redirect(request, "/", error=str(exc))
        if isinstance(target, RunRecord):
            return ui.pages.redirect(request, f"/runs/{target.id}")
        if isinstance(target, ArtifactRecord):
            return ui.pages.redirect(request, f"/lineage?ref=artifact:{target.id}")
        return ui.pages.redirect(request, f"/predictions/{target.prediction_id}")

    return router
