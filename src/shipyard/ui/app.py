"""The web dashboard: the whole loop on one screen, over the same API as the CLI.

    shipyard ui --port 8080          # or serve.ui: true, and it is at /ui of `shipyard serve`

Each page is rendered on the server from calls on ``Project`` (the calls ``shipyard``'s
commands make); nothing is computed here that the CLI computes elsewhere.  The little
JavaScript the pages need (drawing charts, keyboard shortcuts in the review queue) and
Plotly.js come from this package and the installed ``plotly``: the dashboard works with
no internet.  With an API token configured, pages ask for it once (see ``access``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from shipyard import __version__
from shipyard.errors import (
    DeploymentConflict,
    InvalidRequest,
    ModelNotFound,
    NoDeployment,
    RecordNotFound,
    ReviewConflict,
    ShipyardError,
    StoreUnavailable,
    Unauthorized,
)
from shipyard.monitoring.report import plotly_bundle
from shipyard.project import Project
from shipyard.ui import (
    deployments,
    lineage,
    models,
    monitoring,
    overview,
    predictions,
    review,
    runs,
)
from shipyard.ui.access import SESSION_COOKIE, Access, Forbidden
from shipyard.ui.rendering import Dashboard, Pages, read_form

__all__ = ["create_ui", "serve_ui", "ui_app"]

_OPEN_PATHS = ("/login", "/static/", "/assets/")
_STATUSES: tuple[tuple[type[ShipyardError], int], ...] = (
    (Forbidden, 403),
    (Unauthorized, 401),
    (ModelNotFound, 404),
    (RecordNotFound, 404),
    (NoDeployment, 404),
    (DeploymentConflict, 409),
    (ReviewConflict, 409),
    (InvalidRequest, 422),
    (StoreUnavailable, 503),
)


def _status(exc: ShipyardError) -> int:
    return next((status for kind, status in _STATUSES if isinstance(exc, kind)), 400)


def create_ui(project: Project, *, token: SecretStr | None = None) -> FastAPI:
    """The dashboard over ``project`` as an ASGI app (mountable under any path)."""
    access = Access(token)
    pages = Pages(access, project_name=project.config.name)
    dashboard = Dashboard(project=project, pages=pages, access=access)
    app = FastAPI(title="shipyard dashboard", version=__version__, docs_url=None, redoc_url=None)
    app.openapi_url = None

    @app.middleware("http")
    async def signed_in(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.scope["path"][len(request.scope.get("root_path", "")) :] or "/"
        if access.signed_in(request) or path.startswith(_OPEN_PATHS):
            return await call_next(request)
        if request.method != "GET":
            return pages.render(
                request,
                "error.html.j2",
                section="",
                status=401,
                title="Sign in first",
                message="sign in with the API token, then try again",
            )
        return pages.redirect(request, f"/login?next={quote(path)}")

    @app.exception_handler(ShipyardError)
    async def shipyard_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ShipyardError)
        status = _status(exc)
        return pages.render(
            request,
            "error.html.j2",
            section="",
            status=status,
            title="Not found" if status == 404 else "Cannot do that",
            message=str(exc),
        )

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return pages.render(request, "login.html.j2", section="", next=_local(next), failed=False)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        fields = await read_form(request, Access(None))
        target = _local(fields.get("next", "/"))
        session = access.session_for(fields.get("token", ""))
        if session is None:
            return pages.render(
                request, "login.html.j2", section="", status=401, next=target, failed=True
            )
        response = pages.redirect(request, target)
        response.set_cookie(
            SESSION_COOKIE,
            session,
            path=request.scope.get("root_path", "") or "/",
            httponly=True,
            samesite="strict",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await dashboard.form(request)
        response = pages.redirect(request, "/login")
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") or "/")
        return response

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(
            plotly_bundle(),
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(packages=[("shipyard.ui", "static")]), name="static")
    for part in (overview, runs, lineage, models, deployments, monitoring, review, predictions):
        app.include_router(part.routes(dashboard))
    return app


def _local(target: str) -> str:
    """``target`` if it is a path on this dashboard, else ``/``: no open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def ui_app(root: Path) -> FastAPI:
    """The dashboard of the project in ``root``, owning its ``Project`` (for uvicorn)."""
    project = Project.open(root)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            project.close()

    app = create_ui(project, token=project.config.serve.token)
    app.router.lifespan_context = lifespan
    return app


def serve_ui(root: Path, *, host: str, port: int, **options: Any) -> None:
    """Serve the dashboard of the project in ``root`` on ``host:port`` until stopped."""
    import uvicorn

    plotly_bundle()  # a missing plotly is said before the server starts
    uvicorn.run(ui_app(root), host=host, port=port, log_level="warning", **options)
