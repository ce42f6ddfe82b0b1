"""The prediction server: FastAPI on uvicorn, over the project's registered models.

The request path is kept lean.  The four POST routes (``/predict``,
``/v2/models/{name}/predict``, ``/v2/models/{name}/infer``, ``/feedback``) are answered
straight from the ASGI call, before FastAPI's middleware, routing and dependency
machinery, which would cost more than the prediction itself; FastAPI serves the rest
(health, metadata, metrics, the OpenAPI document, which describes all routes).  Bodies are
parsed with orjson, rows go through the model's fitted transform row by row (no
DataFrame) and its compiled predictor, concurrent requests are answered together (see
``Answerer``), every answer is appended to the prediction log before the response leaves,
and nothing is loaded or validated twice.  The registry is polled in the background; a
moved alias is loaded aside and swapped in (see ``ModelCatalog``).  The prediction log is
compacted by a process of its own (see ``Compactor``).

    shipyard serve --port 8000
    curl -d '{"instances": [{"Lot_Area": 8450, ...}]}' localhost:8000/predict
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from shipyard import __version__
from shipyard.errors import (
    DataError,
    InvalidRequest,
    ModelNotFound,
    RecordNotFound,
    ServingError,
    ShipyardError,
)
from shipyard.prediction_log import PredictionLog
from shipyard.prediction_log.compactor import Compactor
from shipyard.project import Project
from shipyard.serving import protocol
from shipyard.serving.answering import Answerer
from shipyard.serving.catalog import ModelCatalog
from shipyard.serving.telemetry import CONTENT_TYPE_LATEST, Telemetry

__all__ = ["ServerSettings", "create_app", "app_from_environment"]

logger = logging.getLogger("shipyard.serving")

ROOT_VARIABLE = "SHIPYARD_SERVE_ROOT"
ALIAS_VARIABLE = "SHIPYARD_SERVE_ALIAS"
RELOAD_VARIABLE = "SHIPYARD_SERVE_RELOAD_SECONDS"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ServerSettings:
    """What ``create_app`` needs: the project folder, the alias served, the poll period."""

    def __init__(
        self,
        root: Path,
        *,
        alias: str = "production",
        reload_seconds: float = 2.0,
        compact_seconds: float = 30.0,
    ) -> None:
        self.root = root
        self.alias = alias
        self.reload_seconds = reload_seconds
        self.compact_seconds = compact_seconds


class _BodyTooLarge(Exception):
    pass


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
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error(exc: ShipyardError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": str(exc)}
    field = getattr(exc, "field", None)
    if field is not None:
        body["field"] = field
    return body


Endpoint = Callable[[bytes, str | None, float], Awaitable[Any]]


@dataclass(frozen=True)
class _PostRoute:
    """A POST route answered straight from the ASGI call, and how OpenAPI shows it."""

    path: str
    endpoint: str
    summary: str
    request: type[BaseModel]
    response: type[BaseModel]


_POST_ROUTES = (
    _PostRoute("/predict", "predict", "Predict with the project's model (simple JSON).",
               protocol.PredictRequest, protocol.PredictResponse),
    _PostRoute("/v2/models/{name}/predict", "predict_named",
               "Predict with a named model (simple JSON).",
               protocol.PredictRequest, protocol.PredictResponse),
    _PostRoute("/v2/models/{name}/infer", "infer",
               "Predict with a named model (Open Inference Protocol v2: one tensor per column).",
               protocol.InferRequest, protocol.InferResponse),
    _PostRoute("/feedback", "feedback",
               'Record the true label of logged predictions: one item, or {"feedback": [...]}.',
               protocol.FeedbackBatch, protocol.FeedbackResponse),
)  # fmt: skip


def _post_route(path: str) -> tuple[str, str | None] | None:
    """(endpoint, model name) of a POST path, or None for FastAPI to answer."""
    if path == "/predict":
        return "predict", None
    if path == "/feedback":
        return "feedback", None
    if path.startswith("/v2/models/"):
        name, _, action = path[len("/v2/models/") :].partition("/")
        if name and action == "infer":
            return "infer", name
        if name and action == "predict":
            return "predict_named", name
    return None


class _Server:
    """The state behind the routes: catalog, log, metrics, and the POST endpoints."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.project = Project.open(settings.root)
        self.catalog = ModelCatalog(self.project, alias=settings.alias)
        self.log = PredictionLog.for_project(self.project)
        self.telemetry = Telemetry()
        self.answerer = Answerer(self.log, self.telemetry)
        self.numeric_labels = False
        self.endpoints: dict[str, Endpoint] = {
            "predict": self.predict,
            "predict_named": self.predict,
            "infer": self.infer,
            "feedback": self.feedback,
        }

    def refresh(self) -> None:
        old = {name: served.version for name, served in self.catalog.models.items()}
        loaded = self.catalog.refresh()
        for served in loaded:
            self.telemetry.model_loaded(
                served.name, served.version, served.alias, served.load_seconds, old.get(served.name)
            )
            logger.info("serving %s:%s (%s)", served.name, served.version, served.alias)
        tasks = {served.package.task for served in self.catalog.models.values()}
        self.numeric_labels = tasks == {"regression"}
        if loaded:
            # A loaded model is hundreds of thousands of objects that live as long as it is
            # served; a full garbage collection that walked them all (over 100 ms) would stall
            # every request in flight.  Freezing keeps them out of the collector's way.
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    async def watch(self) -> None:
        """Follow the registry: load whatever the alias points at, every few seconds;
        close a quiet spool file after a while, so that the compactor can take it."""
        while True:
            try:
                await run_in_threadpool(self.refresh)
            except ShipyardError as exc:  # a bad new version must not stop the old one
                logger.error("could not refresh the served models: %s", exc)
            self.log.rotate(older_than=self.log.rotate_seconds)
            await asyncio.sleep(self.settings.reload_seconds)

    async def handle(self, endpoint: str, name: str | None, receive: Receive, send: Send) -> None:
        """Answer one POST request from its ASGI messages, and count it."""
        started = time.perf_counter()
        telemetry = self.telemetry
        telemetry.in_flight.inc()
        try:
            status, body = 200, await self._answer(endpoint, name, receive, started)
        except _ClientGone:
            return
        except _BodyTooLarge:
            limit = protocol.MAX_BODY_BYTES // (1024 * 1024)
            status, body = 413, {"detail": f"the body is over {limit} MiB", "field": "body"}
        except (InvalidRequest, DataError) as exc:
            status, body = 422, _error(exc)
        except (ModelNotFound, RecordNotFound) as exc:
            status, body = 404, _error(exc)
        except ServingError as exc:
            status, body = 503, _error(exc)
        except Exception:
            logger.exception("%s failed", endpoint)
            status, body = 500, {"detail": "internal error; the server log has the traceback"}
        finally:
            telemetry.in_flight.dec()
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        telemetry.request_answered(endpoint, status, time.perf_counter() - started)

    async def _answer(
        self, endpoint: str, name: str | None, receive: Receive, started: float
    ) -> Any:
        body = await _read_body(receive)
        if not self.catalog.ready:
            raise ServingError("the models are still loading")
        return await self.endpoints[endpoint](body, name, started)

    async def predict(self, body: bytes, name: str | None, started: float) -> Any:
        rows = protocol.instances(protocol.parse_json(body))
        served = self.catalog.route(name)
        answer = await self.answerer.answer(served, rows, "instances", started)
        return protocol.predict_response(
            served.name, served.version, answer.predictions, answer.ids
        )

    async def infer(self, body: bytes, name: str | None, started: float) -> Any:
        served = self.catalog.route(name)
        rows, request_id = protocol.oip_rows(protocol.parse_json(body))
        answer = await self.answerer.answer(served, rows, "inputs", started)
        return protocol.infer_response(
            served.name, served.version, answer.predictions, answer.ids, request_id
        )

    async def feedback(self, body: bytes, _name: str | None, _started: float) -> Any:
        labels = protocol.feedback_items(protocol.parse_json(body), numeric=self.numeric_labels)
        records = await run_in_threadpool(self.log.record_feedback_batch, labels)
        replaced = sum(1 for record in records if record.replaced)
        return {"recorded": len(records), "replaced": replaced}


class _PredictionServer(FastAPI):
    """FastAPI, with the POST routes answered before its per-request machinery."""

    server: _Server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = _post_route(scope["path"])
            if route is not None:
                await self.server.handle(*route, receive, send)
                return
        await super().__call__(scope, receive, send)


def _document_post_routes(document: dict[str, Any]) -> None:
    """Add the POST routes, which FastAPI does not route, to an OpenAPI document."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})

    def reference(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def content(model: type[BaseModel]) -> dict[str, Any]:
        return {"application/json": {"schema": reference(model)}}

    errors = content(protocol.ErrorResponse)
    for route in _POST_ROUTES:
        parameters = []
        if "{name}" in route.path:
            parameters.append(
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            )
        document["paths"][route.path] = {
            "post": {
                "summary": route.summary,
                "operationId": route.endpoint,
                "parameters": parameters,
                "requestBody": {"required": True, "content": content(route.request)},
                "responses": {
                    "200": {"description": "The answer.", "content": content(route.response)},
                    "404": {"description": "Unknown model or prediction id.", "content": errors},
                    "413": {"description": "The body is too large.", "content": errors},
                    "422": {
                        "description": "The body does not fit: 'detail' and 'field' say why.",
                        "content": errors,
                    },
                    "500": {"description": "A bug: the server log says more.", "content": errors},
                    "503": {"description": "The models are still loading.", "content": errors},
                },
            }
        }


def create_app(settings: ServerSettings) -> FastAPI:
    """The FastAPI application serving the project in ``settings.root``."""
    server = _Server(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        compactor = Compactor.start(settings.root, interval=settings.compact_seconds)
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

    @app.get("/v2/health/live", summary="The process is up.")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", summary="Every served model is loaded.")
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

    @app.get("/v2/models/{name}", summary="A model's inputs and outputs.")
    async def model_metadata(name: str) -> Response:
        try:
            served = server.catalog.route(name)
        except ModelNotFound as exc:
            return JSONResponse(_error(exc), 404)
        types = {"int": "INT64", "float": "FP64", "bool": "BOOL", "str": "BYTES"}
        inputs = [
            {"name": column, "datatype": types[kind], "shape": [-1],
             "parameters": {"required": column in served.required}}
            for column, kind in served.input_types().items()
        ]  # fmt: skip
        outputs = [
            {
                "name": "predict",
                "datatype": "FP64" if served.package.task == "regression" else "BYTES",
                "shape": [-1],
            }
        ]
        if served.package.task == "classification":
            classes = len(served.package.classes or [])
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, classes]})
        return JSONResponse(
            {
                "name": served.name,
                "versions": [str(served.version)],
                "platform": "shipyard",
                "inputs": inputs,
                "outputs": outputs,
                "parameters": {"alias": served.alias, "task": served.package.task},
            }
        )

    @app.get("/v2/models/{name}/ready", summary="Whether a model is loaded.")
    async def model_ready(name: str) -> JSONResponse:
        loaded = name in server.catalog.models
        return JSONResponse({"name": name, "ready": loaded}, 200 if loaded else 404)

    @app.get("/metrics", summary="Prometheus metrics.", response_class=Response)
    async def metrics() -> Response:
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            _document_post_routes(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` in each worker, configured by environment."""
    return create_app(
        ServerSettings(
            Path(os.environ[ROOT_VARIABLE]),
            alias=os.environ.get(ALIAS_VARIABLE, "production"),
            reload_seconds=float(os.environ.get(RELOAD_VARIABLE, "2")),
        )
    )
