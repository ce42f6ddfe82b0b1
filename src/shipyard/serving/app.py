"""The prediction server: FastAPI on uvicorn, over the project's registered models.

The request path is kept lean: the body is parsed with orjson, rows go through the
model's fitted transform row by row (no DataFrame) and its compiled predictor, every
answer is appended to the prediction log before the response leaves, and nothing is
loaded or validated twice.  The registry is polled in the background; a moved alias is
loaded aside and swapped in (see ``ModelCatalog``).

    shipyard serve --port 8000
    curl -d '{"instances": [{"Lot_Area": 8450, ...}]}' localhost:8000/predict
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shipyard import __version__
from shipyard.data.transform import TransformStats
from shipyard.errors import (
    DataError,
    InvalidRequest,
    ModelNotFound,
    RecordNotFound,
    ServingError,
    ShipyardError,
)
from shipyard.project import Project
from shipyard.serving import protocol
from shipyard.serving.catalog import ModelCatalog, ServedModel
from shipyard.serving.predictions import PredictionLog, PredictionRecord, new_prediction_id
from shipyard.serving.telemetry import CONTENT_TYPE_LATEST, Telemetry

__all__ = ["ServerSettings", "create_app", "app_from_environment"]

logger = logging.getLogger("shipyard.serving")

ROOT_VARIABLE = "SHIPYARD_SERVE_ROOT"
ALIAS_VARIABLE = "SHIPYARD_SERVE_ALIAS"
RELOAD_VARIABLE = "SHIPYARD_SERVE_RELOAD_SECONDS"


class ServerSettings:
    """What ``create_app`` needs: the project folder, the alias served, the poll period."""

    def __init__(
        self, root: Path, *, alias: str = "production", reload_seconds: float = 2.0
    ) -> None:
        self.root = root
        self.alias = alias
        self.reload_seconds = reload_seconds


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, exc: ShipyardError) -> Response:
    body: dict[str, Any] = {"detail": str(exc)}
    field = getattr(exc, "field", None)
    if field is not None:
        body["field"] = field
    return _json(body, status)


class _Server:
    """The state behind the routes: catalog, log and metrics."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.project = Project.open(settings.root)
        self.catalog = ModelCatalog(self.project, alias=settings.alias)
        self.log = PredictionLog.for_project(self.project)
        self.telemetry = Telemetry()
        self.numeric_labels = False

    def refresh(self) -> None:
        old = {name: served.version for name, served in self.catalog.models.items()}
        for served in self.catalog.refresh():
            self.telemetry.model_loaded(
                served.name, served.version, served.alias, served.load_seconds, old.get(served.name)
            )
            logger.info("serving %s:%s (%s)", served.name, served.version, served.alias)
        tasks = {served.package.task for served in self.catalog.models.values()}
        self.numeric_labels = tasks == {"regression"}

    async def watch(self) -> None:
        """Follow the registry: load whatever the alias points at, every few seconds."""
        while True:
            try:
                await run_in_threadpool(self.refresh)
            except ShipyardError as exc:  # a bad new version must not stop the old one
                logger.error("could not refresh the served models: %s", exc)
            await asyncio.sleep(self.settings.reload_seconds)

    def predict(self, served: ServedModel, rows: list[dict[str, Any]], where: str) -> Any:
        started = time.perf_counter()
        protocol.require_columns(rows, served.required, model=served.name, where=where)
        package = served.package
        stats = TransformStats()
        try:
            features = package.transform.transform_rows(rows, stats=stats)
        except InvalidRequest as exc:
            if exc.row is None or exc.field is None:
                raise
            raise InvalidRequest(str(exc), field=f"{where}[{exc.row}].{exc.field}") from exc
        predictions = package.predict_features(features)
        ids = [new_prediction_id() for _ in rows]
        latency = (time.perf_counter() - started) * 1000
        probabilities = predictions.probability_maps
        self.log.append(
            PredictionRecord(
                prediction_id=ids[i],
                model=served.name,
                version=served.version,
                inputs=row,
                prediction=predictions.values[i],
                probabilities=None if probabilities is None else probabilities[i],
                latency_ms=latency,
            )
            for i, row in enumerate(rows)
        )
        telemetry = self.telemetry
        telemetry.predictions.labels(served.name, str(served.version)).inc(len(rows))
        if predictions.probabilities is None:
            histogram = telemetry.values.labels(served.name)
            for value in predictions.values:
                histogram.observe(value)
        else:
            for value in predictions.values:
                telemetry.classes.labels(served.name, str(value)).inc()
        telemetry.count_inputs(served.name, telemetry.missing, stats.missing)
        telemetry.count_inputs(served.name, telemetry.unseen, stats.unseen)
        telemetry.count_inputs(served.name, telemetry.out_of_range, served.out_of_range(features))
        return predictions, ids


Handler = Callable[[Request], Awaitable[Response]]


def create_app(settings: ServerSettings) -> FastAPI:
    """The FastAPI application serving the project in ``settings.root``."""
    server = _Server(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(server.watch())
        server.log.start_background_compaction()
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await run_in_threadpool(server.log.stop)
            server.project.close()

    app = FastAPI(
        title="shipyard prediction server",
        version=__version__,
        lifespan=lifespan,
        description="Predictions from the registered models of a shipyard project, in "
        "simple JSON and in the Open Inference Protocol v2.",
    )
    app.state.server = server
    telemetry = server.telemetry

    def instrumented(endpoint: str, handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            telemetry.in_flight.inc()
            try:
                if not server.catalog.ready:
                    response = _json({"detail": "the models are still loading"}, 503)
                else:
                    response = await handler(request)
            except (InvalidRequest, DataError) as exc:
                response = _error(422, exc)
            except (ModelNotFound, RecordNotFound) as exc:
                response = _error(404, exc)
            except ServingError as exc:
                response = _error(503, exc)
            except Exception:
                telemetry.requests.labels(endpoint, "500").inc()
                raise
            finally:
                telemetry.in_flight.dec()
            telemetry.requests.labels(endpoint, str(response.status_code)).inc()
            telemetry.latency.labels(endpoint).observe(time.perf_counter() - started)
            return response

        return run

    async def simple(request: Request, name: str | None) -> Response:
        rows = protocol.instances(protocol.parse_json(await request.body()))
        served = server.catalog.route(name)
        predictions, ids = server.predict(served, rows, "instances")
        return _json(protocol.predict_response(served.name, served.version, predictions, ids))

    async def predict_default(request: Request) -> Response:
        return await simple(request, None)

    async def predict_named(request: Request) -> Response:
        return await simple(request, request.path_params["name"])

    async def infer(request: Request) -> Response:
        served = server.catalog.route(request.path_params["name"])
        rows, request_id = protocol.oip_rows(protocol.parse_json(await request.body()))
        predictions, ids = server.predict(served, rows, "inputs")
        return _json(
            protocol.infer_response(served.name, served.version, predictions, ids, request_id)
        )

    async def feedback(request: Request) -> Response:
        payload = protocol.parse_json(await request.body())
        labels = protocol.feedback_items(payload, numeric=server.numeric_labels)
        records = await run_in_threadpool(server.log.record_feedback_batch, labels)
        replaced = sum(1 for record in records if record.replaced)
        return _json({"recorded": len(records), "replaced": replaced})

    body_docs: dict[str, type[BaseModel]] = {
        "predict": protocol.PredictRequest,
        "infer": protocol.InferRequest,
        "feedback": protocol.FeedbackBatch,
    }
    routes: list[tuple[str, str, Handler, str, type[Any], str]] = [
        ("/predict", "predict", predict_default, "predict", protocol.PredictResponse,
         "Predict with the project's model (simple JSON)."),
        ("/v2/models/{name}/predict", "predict_named", predict_named, "predict",
         protocol.PredictResponse, "Predict with a named model (simple JSON)."),
        ("/v2/models/{name}/infer", "infer", infer, "infer", protocol.InferResponse,
         "Predict with a named model (Open Inference Protocol v2: one tensor per column)."),
        ("/feedback", "feedback", feedback, "feedback", dict,
         "Record the true label of logged predictions: one item, or {\"feedback\": [...]}."),
    ]  # fmt: skip
    for path, endpoint, handler, doc, response_model, summary in routes:
        app.add_api_route(
            path,
            instrumented(endpoint, handler),
            methods=["POST"],
            summary=summary,
            name=endpoint,
            responses={
                200: {"model": response_model},
                404: {"description": "Unknown model or prediction id."},
                422: {"description": "The body does not fit: 'detail' and 'field' say why."},
                503: {"description": "The models are still loading."},
            },
            openapi_extra={"x-body": doc},
        )

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
            return _error(404, exc)
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
        return _json(
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
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for path in document["paths"].values():
                for operation in path.values():
                    doc = operation.pop("x-body", None)
                    if doc is None:
                        continue
                    model = body_docs[doc]
                    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                    components.update(schema.pop("$defs", {}))
                    components[model.__name__] = schema
                    operation["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                            }
                        },
                    }
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
