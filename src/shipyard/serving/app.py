"""The prediction server: FastAPI on uvicorn, over the project's registered models.

The request path is kept lean.  The POST routes (``/predict``,
``/v2/models/{name}/predict``, ``/v2/models/{name}/infer`` and its
``/versions/{version}/infer``, ``/feedback``) are answered straight from the ASGI call,
before FastAPI's middleware, routing and dependency machinery, which would cost more than
the prediction itself (``routes.py`` holds their table, other methods on them get 405);
FastAPI serves the rest (health, metadata, metrics, the OpenAPI document, which describes
every route and each served model).  The Open Inference Protocol's routes (``/v2/...``)
answer errors as ``{"error": ..., "field": ...}``, as its clients (tritonclient, KServe's)
read them, the others as ``{"detail": ..., "field": ...}``.  Bodies are parsed with
orjson (or, for binary tensors, read straight into numpy, see ``tensors``), a single row
goes through the model's fitted transform row by row and a batch as numpy columns (no
DataFrame), then its compiled predictor; concurrent requests are answered together (see
``Answerer``), every answer is appended to the prediction log before the response leaves,
and nothing is loaded or validated twice.  The store is watched in the background: a
cheap change marker every ``WATCH_SECONDS``, a full look every ``reload_seconds``; a
moved alias or a changed deployment is loaded aside and swapped in (see
``ModelCatalog``), so every worker follows within a second.  A deployment's request
goes to the arm its routing chooses, a shadow copy is answered after the response, and
the requests and failures of each arm are added to the store about once a second.  The
prediction log is compacted by a process of its own (see ``Compactor``).

    shipyard serve --port 8000
    curl -d '{"instances": [{"Lot_Area": 8450, ...}]}' localhost:8000/predict
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from shipyard import __version__
from shipyard.config import ServeSettings, load_config
from shipyard.errors import RequestTooLarge, ServingError, ShipyardError, Unauthorized
from shipyard.project import Project
from shipyard.serving import protocol, tensors
from shipyard.serving.admin import admin_router
from shipyard.serving.answering import Answerer
from shipyard.serving.auth import UNAUTHORIZED, TokenCheck
from shipyard.serving.catalog import ModelCatalog, ServedModel
from shipyard.serving.compactor import Compactor
from shipyard.serving.reviewing import review_router
from shipyard.serving.routes import (
    PostRouter,
    Target,
    document_post_routes,
    speaks_protocol,
    status_of,
)
from shipyard.serving.telemetry import CONTENT_TYPE_LATEST, Telemetry

__all__ = ["app_from_environment", "create_app", "serve"]

logger = logging.getLogger("shipyard.serving")

# The project each worker process serves; its SHIPYARD_SERVE_* settings come with it.
ROOT_VARIABLE = "SHIPYARD_SERVE_ROOT"
_JSON_HEADERS = [(b"content-type", b"application/json")]
WATCH_SECONDS = 0.25  # how often a server looks for a changed deployment or alias
COUNTS_SECONDS = 1.0  # how often it stores the requests each deployment arm answered
MONITORING_SECONDS = 5.0  # how often it reads the latest monitoring windows for /metrics


class _ClientGone(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > protocol.MAX_BODY_BYTES:
            limit = protocol.MAX_BODY_BYTES // (1024 * 1024)
            raise RequestTooLarge(f"the body is over {limit} MiB", field="body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error_body(message: str, *, protocol_route: bool, field: str | None = None) -> dict[str, Any]:
    """An error's body: ``{"error": ...}`` on the Open Inference Protocol's routes, as its
    clients read it, ``{"detail": ...}`` on the others; ``field`` beside it, when known."""
    body: dict[str, Any] = {"error" if protocol_route else "detail": message}
    if field is not None:
        body["field"] = field
    return body


def _error(exc: ShipyardError, *, protocol_route: bool) -> dict[str, Any]:
    return _error_body(str(exc), protocol_route=protocol_route, field=getattr(exc, "field", None))


Headers = list[tuple[bytes, bytes]]
# (body, model name, version, when it started, headers) -> the answer
Endpoint = Callable[[bytes, str | None, str | None, float, Headers], Awaitable[Any]]


def _fixed(message: str, *extra: tuple[bytes, bytes]) -> dict[bool, tuple[Headers, bytes]]:
    """A response made once at import (405, 401), by whether its route speaks the
    protocol: no JSON encoding per request."""
    made = {}
    for protocol_route in (False, True):
        body = orjson.dumps(_error_body(message, protocol_route=protocol_route))
        length = (b"content-length", str(len(body)).encode())
        made[protocol_route] = ([*_JSON_HEADERS, *extra, length], body)
    return made


_METHOD_NOT_ALLOWED = _fixed("this route answers POST only", (b"allow", b"POST"))
_UNAUTHORIZED = _fixed(UNAUTHORIZED, (b"www-authenticate", b"Bearer"))


class _Server:
    """The state behind the routes: catalog, log, metrics, and the POST endpoints."""

    def __init__(self, root: Path, settings: ServeSettings | None) -> None:
        self.project = Project.open(root)
        self.settings = settings = settings or self.project.config.serve
        self.catalog = ModelCatalog(self.project, alias=settings.alias)
        self.log = self.project.prediction_log(rotate_seconds=settings.spool_seconds)
        self.telemetry = Telemetry()
        self.answerer = Answerer(self.log, self.telemetry)
        self.numeric_labels = False
        self._shown: set[tuple[str, int, str]] = set()  # in shipyard_model_info
        self._queues: set[str] = set()  # models in the review queue's gauges
        self.router = PostRouter[Endpoint](
            {"predict": self.predict, "infer": self.infer, "feedback": self.feedback}
        )
        self.tokens = TokenCheck(settings.token, protect_predictions=settings.protect_predictions)

    def refresh(self) -> None:
        loaded = self.catalog.refresh()
        for served in loaded:
            logger.info("serving %s:%s (%s)", served.name, served.version, served.alias)
        shown = {
            (served.name, served.version, served.alias)
            for routing in self.catalog.routings.values()
            for served in (routing.primary, routing.candidate)
            if served is not None
        }
        for served in loaded:
            self.telemetry.model_loaded(served.name, served.version, served.load_seconds)
        self.telemetry.models_served(shown, self._shown)
        self._shown = shown
        tasks = {served.package.task for served in self.catalog.models.values()}
        self.numeric_labels = tasks == {"regression"}
        if loaded:
            # A loaded model is hundreds of thousands of objects that live as long as it is
            # served; a full garbage collection that walked them all (over 100 ms) would stall
            # every request in flight.  Freezing keeps them out of the collector's way.
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def _store_counts(self) -> None:
        """Add the requests and failures counted per deployment arm to the store."""
        counts = self.answerer.take_counts()
        if not counts:
            return
        try:
            self.project.store.deployments.add_counts(counts)
        except ShipyardError as exc:
            self.answerer.restore_counts(counts)  # stored with the next ones
            logger.warning("could not store the deployment arms' counts: %s", exc)

    def _store_review_items(self) -> None:
        """Add the answers queued for review to the store's review queue."""
        items = self.answerer.take_review_items()
        if not items:
            return
        try:
            self.project.store.review.enqueue(items)
        except ShipyardError as exc:
            self.answerer.restore_review_items(items)  # stored with the next ones
            logger.warning("could not queue %d answers for review: %s", len(items), exc)

    def _show_review_queue(self) -> None:
        """Set the review queue's gauges from the store (every process sees one queue)."""
        try:
            depths = self.project.store.review.depth()
        except ShipyardError as exc:
            logger.debug("could not read the review queue: %s", exc)
            return
        now = time.time()
        shown = {
            depth.model: (
                depth.open,
                depth.disputed,
                0.0 if depth.oldest_open is None else max(0.0, now - depth.oldest_open.timestamp()),
            )
            for depth in depths
        }
        for model in self._queues - set(shown):
            shown[model] = (0, 0, 0.0)
        self._queues = set(shown)
        self.telemetry.review_queue(shown)

    def _show_monitoring(self) -> None:
        """Set the monitoring gauges from the latest windows and the open alerts, and the
        retraining loop's from the retrains."""
        repository = self.project.store.monitoring
        try:
            latest = repository.latest_windows()
            alerts = repository.alerts(status="open")
        except ShipyardError as exc:
            logger.debug("could not read the monitoring windows: %s", exc)
            return
        open_alerts = collections.Counter((alert.model, alert.severity) for alert in alerts)
        self.telemetry.monitoring(
            [(window.model, window.version, window.result) for window in latest], open_alerts
        )
        try:
            retrains = self.project.store.loop.runs()
        except ShipyardError as exc:
            logger.debug("could not read the retrains: %s", exc)
            return
        self.telemetry.loop(collections.Counter((run.model, run.status) for run in retrains))

    def _changed(self) -> tuple[Any, ...] | None:
        """The store's change markers (deployments, automation levels), or None when
        they cannot be read now."""
        store = self.project.store
        try:
            return (store.deployments.change_marker(), store.automation.change_marker())
        except ShipyardError as exc:
            logger.debug("could not look for deployment changes: %s", exc)
            return None

    async def watch(self) -> None:
        """Follow the registry, the deployments and the automation levels: look for a
        change every ``WATCH_SECONDS`` and load what moved at once, and load whatever the
        aliases point at every ``reload_seconds`` anyway; queue the answers triaged for
        review every ``WATCH_SECONDS``; store the arms' counts and read the review
        queue's depth about once a second, and the monitoring windows every
        ``MONITORING_SECONDS``; close a quiet spool file after a while, so
        that the compactor can take it."""
        marker: tuple[Any, ...] | None = None
        next_refresh = next_counts = next_monitoring = 0.0
        try:
            while True:
                now = time.monotonic()
                seen = await run_in_threadpool(self._changed)
                if (seen is not None and seen != marker) or now >= next_refresh:
                    try:
                        await run_in_threadpool(self.refresh)
                    except ShipyardError as exc:  # a bad new version must not stop the old one
                        logger.error("could not refresh the served models: %s", exc)
                    # On failure too: retried at the next periodic refresh, not in a loop.
                    marker = seen if seen is not None else marker
                    if now >= next_refresh:
                        next_refresh = now + self.settings.reload_seconds
                        self.log.rotate(older_than=self.log.rotate_seconds)
                await run_in_threadpool(self._store_review_items)
                if now >= next_counts:
                    next_counts = now + COUNTS_SECONDS
                    await run_in_threadpool(self._store_counts)
                    await run_in_threadpool(self._show_review_queue)
                if now >= next_monitoring:
                    next_monitoring = now + MONITORING_SECONDS
                    await run_in_threadpool(self._show_monitoring)
                await asyncio.sleep(WATCH_SECONDS)
        finally:  # the last counts and review items, when the server stops
            with contextlib.suppress(Exception):
                self._store_counts()
            with contextlib.suppress(Exception):
                self._store_review_items()

    async def handle(
        self, target: Target[Endpoint], headers: Headers, receive: Receive, send: Send
    ) -> None:
        """Answer one POST request from its ASGI messages, and count it."""
        started = time.perf_counter()
        telemetry = self.telemetry
        telemetry.in_flight.inc()
        route = target.route
        response_headers = _JSON_HEADERS
        try:
            body = await _read_body(receive)
            if not self.catalog.ready:
                raise ServingError("the models are still loading")
            status, payload = (
                200,
                await target.handler(body, target.name, target.version, started, headers),
            )
        except _ClientGone:
            return
        except ShipyardError as exc:
            status, payload = status_of(exc), _error(exc, protocol_route=route.protocol)
            if status == 500:
                logger.error("%s failed: %s", route.endpoint, exc, exc_info=exc)
        except Exception:
            logger.exception("%s failed", route.endpoint)
            status, payload = (
                500,
                _error_body(
                    "internal error; the server log has the traceback",
                    protocol_route=route.protocol,
                ),
            )
        finally:
            telemetry.in_flight.dec()
        if isinstance(payload, tensors.BinaryAnswer):
            content, response_headers = payload.content, payload.headers()
        else:
            content = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*response_headers, (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})
        telemetry.request_answered(route.endpoint, status, time.perf_counter() - started)

    async def version(self, name: str, version: str) -> ServedModel:
        """Model ``name`` at registered ``version``: held, else loaded in a thread."""
        served = self.catalog.held_version(name, version)
        if served is None:
            served = await run_in_threadpool(self.catalog.load_version, name, version)
        return served

    async def predict(
        self, body: bytes, name: str | None, _version: str | None, started: float, headers: Headers
    ) -> Any:
        rows = protocol.instances(protocol.parse_json(body))
        choice = self.catalog.choose(name, rows, headers)
        answer = await self.answerer.answer(choice, rows, "instances", started)
        served = choice.served
        return protocol.predict_response(
            served.name, served.version, answer.predictions, answer.ids, arm=answer.arm,
            decisions=answer.decisions, blind=answer.blind,
        )  # fmt: skip

    async def infer(
        self, body: bytes, name: str | None, version: str | None, started: float, headers: Headers
    ) -> Any:
        assert name is not None  # the route's path names the model
        routing = self.catalog.routing(name)
        header_length = next(
            (value for key, value in headers if key == tensors.HEADER_LENGTH), None
        )
        if header_length is None:
            request = protocol.oip_request(protocol.parse_json(body))
        else:
            head, raw = tensors.split_body(body, header_length)
            request = protocol.oip_request(protocol.parse_json(head), raw)
        rows = request.rows()
        if version is None:
            choice = routing.choose(rows, headers)
        else:
            choice = routing.pinned(await self.version(name, version))
        request.check_outputs(choice.served.output_names(), model=name)
        answer = await self.answerer.answer(choice, rows, "inputs", started, request.columns)
        served = choice.served
        answered = protocol.infer_response(
            served.name, served.version, answer.predictions, answer.ids, request.id,
            decisions=answer.decisions, blind=answer.blind, outputs=request.outputs,
        )  # fmt: skip
        binary = [
            output["name"] for output in answered["outputs"] if request.binary(output["name"])
        ]
        return tensors.binary_answer(answered, binary) if binary else answered

    async def feedback(
        self,
        body: bytes,
        _name: str | None,
        _version: str | None,
        _started: float,
        _headers: Headers,
    ) -> Any:
        labels = protocol.feedback_items(protocol.parse_json(body), numeric=self.numeric_labels)
        records = await run_in_threadpool(self.log.record_feedback_batch, labels)
        replaced = sum(1 for record in records if record.replaced)
        return {"recorded": len(records), "replaced": replaced}


class _PredictionServer(FastAPI):
    """FastAPI, with the POST routes answered before its per-request machinery."""

    server: _Server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = self.server.router.match(scope["path"])
            if target is not None:
                route = target.route
                tokens = self.server.tokens
                guarded = route.handler == "feedback" or tokens.protect_predictions
                if guarded and not tokens.allows(scope["headers"]):
                    await _send_fixed(send, 401, *_UNAUTHORIZED[route.protocol])
                elif scope["method"] == "POST":
                    await self.server.handle(target, scope["headers"], receive, send)
                else:
                    await _send_fixed(send, 405, *_METHOD_NOT_ALLOWED[route.protocol])
                return
        await super().__call__(scope, receive, send)


async def _send_fixed(send: Send, status: int, headers: Headers, body: bytes) -> None:
    """Send a response made once at import (405, 401): no JSON encoding per request."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(root: Path, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI application serving the project in ``root``; ``settings`` default to
    the project's ``serve`` section (``host``, ``port`` and ``workers`` are ``serve``'s)."""
    server = _Server(root, settings)
    settings = server.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        compactor = Compactor.start(server.project.root, interval=settings.compact_seconds)
        watcher = asyncio.create_task(server.watch())
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            server.log.close()
            await run_in_threadpool(compactor.stop)
            server.project.close()

    app = _PredictionServer(
        title="shipyard prediction server",
        version=__version__,
        lifespan=lifespan,
        description="Predictions from the registered models of a shipyard project, in "
        "simple JSON and in the Open Inference Protocol v2.",
    )
    app.server = server
    telemetry = server.telemetry
    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": protocol.ProtocolError, "description": "The model is not served here."}
    }
    version_errors: dict[int | str, dict[str, Any]] = {
        404: {
            "model": protocol.ProtocolError,
            "description": "The model is not served here, or has no such version.",
        }
    }

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own checks (admin bodies, query and path values) answer in
        # shipyard's shape: one message naming the field, as every other 422 does.
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0]
        where = ".".join(
            str(part) for part in first["loc"] if part not in ("body", "query", "path")
        )
        message = f"{where or 'body'}: {first['msg']}"
        on_protocol = speaks_protocol(request.url.path)
        return JSONResponse(
            _error_body(message, protocol_route=on_protocol, field=where or "body"), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        # FastAPI answers a body it cannot parse with 400; every other route of this
        # server says 422 for a body that is not JSON, and so do these.
        assert isinstance(exc, StarletteHTTPException)
        on_protocol = speaks_protocol(request.url.path)
        if exc.status_code == 400:
            message = f"the body is not valid JSON ({exc.detail})"
            return JSONResponse(_error_body(message, protocol_route=on_protocol, field="body"), 422)
        if on_protocol:  # e.g. a path no route has: the protocol's clients read "error"
            body = _error_body(str(exc.detail), protocol_route=True)
            return JSONResponse(body, exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ShipyardError)
    async def shipyard_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ShipyardError)
        headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        body = _error(exc, protocol_route=speaks_protocol(request.url.path))
        return JSONResponse(body, status_of(exc), headers=headers)

    app.include_router(admin_router(server.project, server.tokens))
    app.include_router(review_router(server.project, server.tokens))
    if settings.ui:
        from shipyard.ui import create_ui

        app.mount("/ui", create_ui(server.project, token=settings.token))

    @app.get("/v2/health/live", summary="The process is up.")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get(
        "/v2/health/ready",
        summary="Every served model is loaded.",
        response_model=protocol.Readiness,
        responses={503: {"model": protocol.Readiness, "description": "Still loading."}},
    )
    async def ready() -> JSONResponse:
        return JSONResponse({"ready": server.catalog.ready}, 200 if server.catalog.ready else 503)

    @app.get("/v2", summary="Server metadata.")
    async def metadata() -> dict[str, Any]:
        return {
            "name": "shipyard",
            "version": __version__,
            "extensions": [],
            "models": server.catalog.describe(),
        }

    @app.get("/v2/models/{name}", summary="A model's inputs and outputs.", responses=errors)
    async def model_metadata(name: str) -> dict[str, Any]:
        return server.catalog.route(name).metadata()

    @app.get(
        "/v2/models/{name}/versions/{version}",
        summary="The inputs and outputs of one registered version of a model.",
        responses=version_errors,
    )
    async def version_metadata(name: str, version: str) -> dict[str, Any]:
        return (await server.version(name, version)).metadata()

    @app.get(
        "/v2/models/{name}/ready",
        summary="Whether a model is loaded.",
        response_model=protocol.ModelReadiness,
        responses={404: {"model": protocol.ModelReadiness, "description": "Not served here."}},
    )
    async def model_ready(name: str) -> JSONResponse:
        loaded = name in server.catalog.models
        return JSONResponse({"name": name, "ready": loaded}, 200 if loaded else 404)

    @app.get("/metrics", summary="Prometheus metrics.", response_class=Response)
    async def metrics() -> Response:
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    documented: list[Any] = [None]  # the catalog's models the cached document describes

    def openapi() -> dict[str, Any]:
        # The document describes the models served now: it is made again when they change.
        catalog = server.catalog
        if app.openapi_schema is None or documented[0] is not catalog.models:
            documented[0] = catalog.models
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            default = None
            with contextlib.suppress(ShipyardError):
                default = catalog.route(None)
            tokens = server.tokens
            guarded = {"feedback"} if tokens.required else set()
            if tokens.protect_predictions:
                guarded |= {"predict", "infer"}
            document_post_routes(
                document,
                catalog.models,
                default=default,
                numeric_labels=server.numeric_labels,
                guarded=frozenset(guarded),
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` in each worker: the project in
    ``SHIPYARD_SERVE_ROOT``, its settings overridden by the ``SHIPYARD_SERVE_*`` variables."""
    return create_app(Path(os.environ[ROOT_VARIABLE]))


def serve(root: Path, settings: ServeSettings | None = None) -> None:
    """Serve the project in ``root`` until interrupted: one process, or ``workers``
    processes on one port, each with the project's models, spool and compactor.

    Several workers each write their metrics to a shared temporary folder, which
    ``/metrics`` adds up; they learn the project and settings from the environment.
    """
    import uvicorn

    settings = settings or load_config(root).serve
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "access_log": False, "log_level": "warning"
    }  # fmt: skip
    if settings.workers == 1:
        uvicorn.run(create_app(root, settings), **options)
        return
    os.environ.update(settings.environment(), **{ROOT_VARIABLE: str(root)})
    with tempfile.TemporaryDirectory(prefix="shipyard-metrics-") as metrics:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
        uvicorn.run(
            "shipyard.serving.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            **options,
        )
