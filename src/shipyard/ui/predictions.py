"""Predictions: find one by id, and see its answer, its feedback and where it came from.

``/predictions`` lists each model's newest answers: ``project.newest_predictions`` reads
the spool and only the newest segments, as plain rows, so the list stays cheap however
long the log is.  One prediction is found through the id index (``project.prediction``) and
traced through the registry (``project.prediction_lineage``), as the CLI and ``/find`` do.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import ModelNotFound
from shipyard.prediction_lineage import PredictionLineage
from shipyard.ui.rendering import Dashboard

__all__ = ["routes"]

LATEST = 50


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/predictions")
    def predictions(request: Request, id: str = "") -> Response:
        wanted = id.strip()
        if wanted:
            return ui.pages.redirect(request, f"/predictions/{wanted}")
        latest = {
            model.name: project.newest_predictions(model=model.name, limit=LATEST)
            for model in project.registry.models()
        }
        return ui.pages.render(
            request, "predictions.html.j2", section="/predictions", latest=latest, limit=LATEST
        )

    @router.get("/predictions/{prediction_id}")
    def prediction(request: Request, prediction_id: str) -> Response:
        lineage: PredictionLineage | None
        try:
            lineage = project.prediction_lineage(prediction_id)
            answer = lineage.prediction
            untraced = None
        except ModelNotFound as exc:  # answered by a version this registry lacks
            lineage, answer, untraced = None, project.prediction(prediction_id), str(exc)
        feedback = project.store.predictions.feedback(prediction_ids=[prediction_id])
        return ui.pages.render(
            request,
            "prediction.html.j2",
            section="/predictions",
            answer=answer,
            feedback=feedback[-1] if feedback else None,
            lineage=lineage,
            untraced=untraced,
        )

    return router
