"""The registry: every model, a model's versions and alias history, one version in full
with every check of its gate, and the forms that deploy or promote it.

The pages read what ``shipyard models`` and ``shipyard models show`` read; a long list of
versions comes a page at a time, and the metric chart takes the newest ``CHART_VERSIONS``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shipyard.config import EvaluationSettings
from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.modeling.confidence import CONFIDENCE_METRICS
from shipyard.monitoring._report_figures import base_layout, number, plot_text
from shipyard.store.records import ModelVersionRecord
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

PAGE_SIZE = 50
CHART_VERSIONS = 200
KEY_METRICS = 4
#: The metric the chart follows when the gate names none: the first of these a version has.
USUAL_METRICS = ("rmse", "accuracy", "f1", "mae", "r2", "roc_auc")
ACTOR = "dashboard"


def quality_metrics(record: ModelVersionRecord) -> dict[str, Any]:
    """The version's evaluation metrics, without its confidence model's figures."""
    return {k: v for k, v in record.metrics.items() if k not in CONFIDENCE_METRICS}


def main_metric(settings: EvaluationSettings, versions: list[ModelVersionRecord]) -> str | None:
    """The metric the gate holds first (else a usual one) that the versions report."""
    reported = {name for record in versions for name in record.metrics}
    wanted = [*settings.thresholds, *settings.change_thresholds, *USUAL_METRICS]
    found = next((name for name in wanted if name in reported), None)
    if found is None and versions:
        found = next(iter(quality_metrics(versions[0])), None)
    return found


def metric_figure(metric: str, versions: list[ModelVersionRecord]) -> dict[str, Any]:
    """``metric`` over versions, oldest left; blessed versions as filled markers."""
    ordered = sorted(versions, key=lambda record: record.version)
    layout = base_layout(height=280, y_title=plot_text(metric))
    layout["xaxis"] = {
        "type": "linear",
        "gridcolor": "#eef0f3",
        "title": {"text": "version"},
        "tickformat": "d",
    }
    layout["yaxis"]["rangemode"] = "normal"
    layout["hovermode"] = "closest"
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": plot_text(metric),
                "x": [record.version for record in ordered],
                "y": [number(record.metrics.get(metric)) for record in ordered],
                "text": ["blessed" if record.blessed else "not blessed" for record in ordered],
                "marker": {
                    "size": 8,
                    "color": ["#16a34a" if r.blessed else "#dc2626" for r in ordered],
                },
                "line": {"color": "#2563eb"},
                "hovertemplate": "v%{x}: %{y:.5g} (%{text})<extra></extra>",
            }
        ],
        "layout": layout,
    }


def gate_checks(record: ModelVersionRecord) -> tuple[list[dict[str, Any]], list[str]]:
    """The Evaluator's checks as stored with the version, and the failures that are not
    among them (the InfraValidator's)."""
    checks = [dict(check) for check in record.reasons.get("checks", [])]
    messages = {check.get("message") for check in checks}
    others = [reason for reason in record.reasons.get("failed", []) if reason not in messages]
    return checks, others


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/models")
    def models(request: Request) -> Response:
        return ui.pages.render(
            request, "models.html.j2", section="/models", models=project.registry.models()
        )

    @router.get("/models/{name}")
    def model(request: Request, name: str, before: int | None = None) -> Response:
        recent = project.registry.versions(name, limit=CHART_VERSIONS)
        if before is None:
            page = recent[:PAGE_SIZE]
        else:
            page = project.registry.versions(name, limit=PAGE_SIZE, before=before)
        metric = main_metric(project.config.evaluation, recent)
        figures = (
            {} if metric is None or not recent else {"metric-chart": metric_figure(metric, recent)}
        )
        older = page[-1].version if page and page[-1].version > 1 else None
        return ui.pages.render(
            request,
            "model.html.j2",
            section="/models",
            figures=figures,
            name=name,
            versions=page,
            key_metrics={r.version: list(quality_metrics(r).items())[:KEY_METRICS] for r in page},
            metric=metric,
            charted=len(recent),
            before=before,
            older=older,
            history=list(reversed(project.registry.history(name))),
        )

    @router.get("/models/{name}/{version}")
    def version(request: Request, name: str, version: int) -> Response:
        record = project.registry.resolve(f"{name}:{version}")
        checks, other_failures = gate_checks(record)
        dataset = (
            None
            if record.dataset_version_id is None
            else project.dataset_version(record.dataset_version_id)
        )
        production = project.registry.find(name, "production")
        return ui.pages.render(
            request,
            "model_version.html.j2",
            section="/models",
            record=record,
            dataset=dataset,
            metrics=quality_metrics(record),
            confidence={k: v for k, v in record.metrics.items() if k in CONFIDENCE_METRICS},
            checks=checks,
            other_failures=other_failures,
            production=production,
            deployment=project.deployments.current(name),
        )

    @router.post("/models/{name}/{version}/promote")
    async def promote(request: Request, name: str, version: int) -> Response:
        fields = await ui.form(request)
        page = f"/models/{name}/{version}"
        record = await run_in_threadpool(project.registry.resolve, f"{name}:{version}")
        alias = fields.get("alias", "production").strip() or "production"
        try:
            if not record.blessed and alias == "production":
                raise InvalidRequest(
                    f"{record.ref} is not blessed; only a blessed version becomes production "
                    "here (`shipyard promote` can still point an alias at it)",
                    field="version",
                )
            event = await run_in_threadpool(
                lambda: project.registry.promote(
                    name,
                    version,
                    alias=alias,
                    actor=ACTOR,
                    reason=fields.get("reason", "").strip() or "promoted from the dashboard",
                )
            )
        except ShipyardError as exc:
            return ui.pages.redirect(request, page, error=str(exc))
        if event is None:
            return ui.pages.redirect(request, page, done=f"{name}@{alias} already is v{version}")
        before = "nothing" if event.from_version is None else f"v{event.from_version}"
        return ui.pages.redirect(
            request, page, done=f"moved {name}@{alias} from {before} to v{version}"
        )

    return router
