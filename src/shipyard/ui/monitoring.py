"""The monitoring pages: every model's latest windows, open alerts and retraining loop
(what ``shipyard monitor``, ``shipyard alerts`` and ``shipyard loop history`` print), and
one model's report drawn in the page.

The model page shows the sections of ``shipyard report``: ``Monitor.report_data`` reads
the windows and ``page_context`` turns them into numbers and figures for both.  The page
draws at most the newest ``MAX_WINDOWS`` windows of the range chosen, and its current
distributions merge the newest ``MERGED_WINDOWS`` of them only: each merged window is
one stored artifact to read, parse and merge (some 10 to 40 ms).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import InvalidRequest
from shipyard.monitoring import window_dict
from shipyard.monitoring._report_sections import page_context
from shipyard.monitoring.report import render_sections
from shipyard.store.records import MonitorWindowRecord
from shipyard.ui.rendering import Dashboard

__all__ = ["MAX_WINDOWS", "MERGED_WINDOWS", "RANGES", "routes"]

#: Windows drawn at most on a model's page (the newest of the range).
MAX_WINDOWS = 200
#: Windows whose statistics the current distributions merge at most.
MERGED_WINDOWS = 8
#: The ranges a model's page offers; ``all`` is every stored window.
RANGES = ("1d", "7d", "30d", "all")
RECENT_ALERTS = 50
RECENT_STEPS = 6


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/monitoring")
    def monitoring(request: Request) -> Response:
        latest: dict[str, list[dict[str, Any]]] = {}
        for window in project.store.monitoring.latest_windows():
            latest.setdefault(window.model, []).append(_window_row(window))
        loops = []
        for model in project.registry.models():
            steps = project.loop.history(model.name)
            loops.append(
                {
                    "model": model.name,
                    "current": project.store.loop.current(model.name),
                    "steps": steps[-RECENT_STEPS:],
                    "retrains": len({step.loop_run_id for step in steps}),
                }
            )
        return ui.pages.render(
            request,
            "monitoring.html.j2",
            section="/monitoring",
            latest=latest,
            loops=loops,
            loop_enabled=project.config.loop.enabled,
            alerts=project.store.monitoring.alerts(status="open", limit=RECENT_ALERTS),
            window=project.monitor.spec.text,
        )

    @router.get("/monitoring/{model}")
    def model_monitoring(request: Request, model: str, since: str = "30d") -> Response:
        if since not in RANGES:
            raise InvalidRequest(
                f"since must be one of {', '.join(RANGES)}, not {since!r}", field="since"
            )
        project.registry.versions(model)  # an unknown name is a ModelNotFound: a 404
        monitor = project.monitor
        newest = project.store.monitoring.windows(model=model, spec=monitor.spec.text, newest=1)
        common: dict[str, Any] = {
            "model": model,
            "since": since,
            "ranges": RANGES,
            "window": monitor.spec.text,
            "newest": newest[0] if newest else None,
        }
        if not newest:
            return ui.pages.render(
                request, "monitoring_model.html.j2", section="/monitoring", drawn=None, **common
            )
        data = monitor.report_data(
            model,
            since=None if since == "all" else since,
            newest=MAX_WINDOWS,
            merged=MERGED_WINDOWS,
        )
        versions = [window["version"] for window in data.windows]
        context, figures = page_context(data)
        return ui.pages.render(
            request,
            "monitoring_model.html.j2",
            section="/monitoring",
            figures=figures,
            drawn=len(data.windows),
            capped=len(data.windows) == MAX_WINDOWS,
            merged=min(versions.count(versions[-1]), MERGED_WINDOWS) if versions else 0,
            merged_version=versions[-1] if versions else None,
            sections=render_sections(context) if data.windows else None,
            **common,
        )

    return router


def _window_row(window: MonitorWindowRecord) -> dict[str, Any]:
    """One latest window as the CLI's table has it: drifted features among those
    judged, output drift, the first realised metric and the estimates."""
    shown = window_dict(window)
    features = shown.get("features") or {}
    judged = [name for name, f in features.items() if f.get("status") != "not enough data"]
    drifted = list(shown.get("drifted") or [])
    performance = shown.get("performance") or {}
    realised = None
    if performance:
        metric = next(iter(performance))
        realised = {"metric": metric, **performance[metric]}
    return {
        "window": window,
        "judged": len(judged),
        "drifted": [(name, (features.get(name) or {}).get("score")) for name in drifted],
        "output": shown.get("output"),
        "realised": realised,
        "estimated": shown.get("estimated") or {},
    }
