"""The server's POST routes, the statuses its errors map to, and the OpenAPI document.

One table (``POST_ROUTES``) gives both the fast path's dispatch (``PostRouter``, a dict
lookup per request) and the routes' OpenAPI entries; one table (``ERROR_STATUSES``) maps
shipyard's own exceptions to HTTP statuses for every route, and tells the document which
statuses each route can give.  Anything else a route raises is a bug: 500.

The document states what the server really requires, so that a schema-driven fuzzer
(schemathesis) finds nothing: each served model gets paths of its own, whose request
schemas list that model's columns, their JSON types, which are required, and the sizes
allowed.  Two rules of the Open Inference Protocol cannot be written in JSON Schema — a
tensor's ``shape`` must match the length of its ``data``, and every tensor must have the
same length — so the ``infer`` routes say them in words.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shipyard.errors import (
    DataError,
    DeploymentConflict,
    DeploymentError,
    InvalidRequest,
    ModelNotFound,
    NoDeployment,
    RecordNotFound,
    RequestTooLarge,
    ReviewConflict,
    ServingError,
    ShipyardError,
    StoreUnavailable,
    Unauthorized,
)
from shipyard.serving import protocol
from shipyard.serving.catalog import ServedModel

__all__ = [
    "ERROR_STATUSES",
    "POST_ROUTES",
    "ErrorStatus",
    "PostRoute",
    "PostRouter",
    "Target",
    "document_post_routes",
    "error_descriptions",
    "speaks_protocol",
    "status_of",
]

PROTOCOL_PREFIX = "/v2/"
MODELS_PREFIX = "/v2/models/"
VERSIONS = "versions/"
_LARGEST = sys.float_info.max


@dataclass(frozen=True, slots=True)
class ErrorStatus:
    """The HTTP status of one kind of shipyard error, and what it means to a client."""

    error: type[ShipyardError]
    status: int
    description: str


# Subclasses before their bases: the first entry an error is an instance of decides.
ERROR_STATUSES = (
    ErrorStatus(RequestTooLarge, 413, "The body is too large."),
    ErrorStatus(InvalidRequest, 422, "The body does not fit: the message and 'field' say why."),
    ErrorStatus(DataError, 422, "A value does not fit the model: the message says why."),
    ErrorStatus(ModelNotFound, 404, "The model is not served here."),
    ErrorStatus(NoDeployment, 404, "The model has no deployment to change."),
    ErrorStatus(DeploymentConflict, 409, "It conflicts with the deployment as it is now."),
    ErrorStatus(DeploymentError, 422, "The change is refused: the message says why."),
    ErrorStatus(Unauthorized, 401, "The API token is missing or wrong."),
    ErrorStatus(RecordNotFound, 404, "The prediction or review item named does not exist."),
    ErrorStatus(
        ReviewConflict,
        409,
        "The item is another reviewer's, your lease ended, or its state "
        "does not allow this; nothing changed.",
    ),
    ErrorStatus(StoreUnavailable, 503, "The metadata store cannot be reached; retry."),
    ErrorStatus(ServingError, 503, "The models are still loading; retry."),
)
_STATUS = {entry.error: entry.status for entry in ERROR_STATUSES}


def error_descriptions(
    errors: tuple[type[ShipyardError], ...], *, guarded: bool = True
) -> dict[int, str]:
    """Each status a route raising ``errors`` can give, with what it means; 401 only if
    the API token guards the route (``guarded``)."""
    described: dict[int, str] = {}
    for entry in ERROR_STATUSES:
        if entry.error is Unauthorized and not guarded:
            continue
        if issubclass(entry.error, errors):
            text = described.setdefault(entry.status, entry.description)
            if entry.description not in text:
                described[entry.status] = f"{text} {entry.description}"
    return described


def status_of(exc: ShipyardError) -> int:
    """The HTTP status answering ``exc``: from ``ERROR_STATUSES``, else 500."""
    for kind in type(exc).__mro__:
        status = _STATUS.get(kind)
        if status is not None:
            return status
    return 500


@dataclass(frozen=True, slots=True)
class PostRoute:
    """A POST route answered straight from the ASGI call, and how OpenAPI shows it."""

    path: str
    endpoint: str  # the metrics' label and the OpenAPI operation id
    handler: str  # the server's method that answers it
    summary: str
    request: type[BaseModel]
    response: type[BaseModel]
    errors: tuple[type[ShipyardError], ...]

    @property
    def per_model(self) -> bool:
        return self.path.startswith(MODELS_PREFIX)

    @property
    def protocol(self) -> bool:
        """Whether the route is the Open Inference Protocol's (see ``speaks_protocol``)."""
        return speaks_protocol(self.path)

    @property
    def action(self) -> str:
        """The path after ``/v2/models/{name}/``, e.g. ``versions/{version}/infer``."""
        return self.path.removeprefix(MODELS_PREFIX + "{name}/")


def speaks_protocol(path: str) -> bool:
    """Whether ``path`` is one of the Open Inference Protocol's routes, whose error body
    is ``{"error": ...}`` (the others' is ``{"detail": ...}``)."""
    return path.startswith(PROTOCOL_PREFIX)


# Unauthorized: with an API token, always for feedback, for predictions if protected.
_PREDICT_ERRORS = (RequestTooLarge, InvalidRequest, ModelNotFound, ServingError, Unauthorized)
POST_ROUTES = (
    PostRoute("/predict", "predict", "predict",
              "Predict with the project's model (simple JSON).",
              protocol.PredictRequest, protocol.PredictResponse, _PREDICT_ERRORS),
    PostRoute("/v2/models/{name}/predict", "predict_named", "predict",
              "Predict with a named model (simple JSON).",
              protocol.PredictRequest, protocol.PredictResponse, _PREDICT_ERRORS),
    PostRoute("/v2/models/{name}/infer", "infer", "infer",
              "Predict with a named model (Open Inference Protocol v2: one tensor per column).",
              protocol.InferRequest, protocol.InferResponse, _PREDICT_ERRORS),
    PostRoute("/v2/models/{name}/versions/{version}/infer", "infer_version", "infer",
              "Predict with one registered version of a named model (Open Inference "
              "Protocol v2).",
              protocol.InferRequest, protocol.InferResponse, _PREDICT_ERRORS),
    PostRoute("/feedback", "feedback", "feedback",
              'Record the true label of logged predictions: one item, or {"feedback": [...]}.',
              protocol.FeedbackBatch, protocol.FeedbackResponse,
              (RequestTooLarge, InvalidRequest, RecordNotFound, StoreUnavailable, ServingError,
               Unauthorized)),
)  # fmt: skip

Handler = TypeVar("Handler")


@dataclass(frozen=True, slots=True)
class Target(Generic[Handler]):
    """A POST request's route and handler, and the model and version its path names."""

    route: PostRoute
    handler: Handler
    name: str | None = None
    version: str | None = None


class PostRouter(Generic[Handler]):
    """Finds the route and handler of a POST path: one or two dict lookups, no parsing.

    >>> router = PostRouter({"predict": 1, "infer": 2, "feedback": 3})
    >>> found = router.match("/v2/models/ames/versions/3/infer")
    >>> found.handler, found.name, found.version
    (2, 'ames', '3')
    """

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self._exact: dict[str, Target[Handler]] = {}
        self._named: dict[str, tuple[PostRoute, Handler]] = {}
        for route in POST_ROUTES:
            handler = handlers[route.handler]
            if route.per_model:
                self._named[route.action] = (route, handler)
            else:
                self._exact[route.path] = Target(route, handler)

    def match(self, path: str) -> Target[Handler] | None:
        """The target of ``path``, or None when no POST route has it."""
        found = self._exact.get(path)
        if found is not None:
            return found
        if not path.startswith(MODELS_PREFIX):
            return None
        name, _, action = path[len(MODELS_PREFIX) :].partition("/")
        version = None
        if action.startswith(VERSIONS):
            version, _, action = action[len(VERSIONS) :].partition("/")
            if not version:
                return None
            action = f"{VERSIONS}{{version}}/{action}"
        named = self._named.get(action)
        if named is None or not name:
            return None
        return Target(named[0], named[1], name, version)


# -- the OpenAPI document -------------------------------------------------------------------


def _value_schema(served: ServedModel, column: str, kind: str) -> dict[str, Any]:
    """The JSON values the transform takes for ``column`` (see ``FittedTransform``)."""
    transform = served.package.transform
    schema: dict[str, Any]
    if column in transform.numeric_columns:
        # Finite numbers; null is a missing value, imputed.  Booleans and text are refused.
        schema = {"type": ["number", "null"], "minimum": -_LARGEST, "maximum": _LARGEST}
    elif column in transform.categorical_columns:
        schema = {"type": ["string", "number", "boolean", "null"]}
    else:  # read only by the project's derive function
        schema = {}
    needed = "required" if column in served.required else "optional"
    schema["description"] = f"{kind} column, {needed}; null: missing"
    return schema


def _row_schema(served: ServedModel) -> dict[str, Any]:
    types = served.input_types()
    return {
        "type": "object",
        "description": f"A row for {served.name}: column name -> value; other keys are ignored.",
        "properties": {
            column: _value_schema(served, column, kind) for column, kind in types.items()
        },
        "required": sorted(served.required),
    }


def _predict_request(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "instances": {
                "type": "array",
                "items": row,
                "minItems": 1,
                "maxItems": protocol.MAX_BATCH,
                "description": "Rows to predict.",
            }
        },
        "required": ["instances"],
    }


BINARY_TENSORS = (
    "Tensors may also be sent as raw bytes (the binary tensor data extension, as "
    "tritonclient sends them): the header Inference-Header-Content-Length gives the length "
    "of the JSON above, and the body goes on with the raw bytes of each input whose "
    "parameters hold binary_data_size, in order (numbers little-endian; BYTES elements each "
    "after a 4-byte little-endian length).  Outputs asked for as binary data "
    "(parameters.binary_data_output, or an output's parameters.binary_data) come back the "
    "same way, as application/octet-stream."
)


def _infer_request(served: ServedModel) -> dict[str, Any]:
    columns = ", ".join(
        f"{column} ({kind}{', required' if column in served.required else ''})"
        for column, kind in served.input_types().items()
    )
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "description": "A column name."},
            "shape": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 1,
                "description": "[rows] or [rows, 1]: rows must be the length of 'data'.",
            },
            "datatype": {"enum": sorted(protocol.OIP_TYPES)},
            "data": {"type": "array", "minItems": 1, "maxItems": protocol.MAX_BATCH},
        },
        "required": ["name", "shape", "datatype", "data"],
    }
    binary = {"type": "boolean", "description": "Send it as binary data."}
    output = {
        "type": "object",
        "properties": {
            "name": {"enum": list(served.output_names())},
            "parameters": {"type": "object", "properties": {"binary_data": binary}},
        },
        "required": ["name"],
    }
    return {
        "type": "object",
        "description": f"One tensor per column of {served.name}, all of the same length: "
        f"{columns}.  {BINARY_TENSORS}",
        "properties": {
            "id": {"type": ["string", "null"]},
            "parameters": {"type": "object", "properties": {"binary_data_output": binary}},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": output,
                "description": "The outputs to send (absent: all of them).",
            },
        },
        "required": ["inputs"],
    }


def _feedback_request(numeric_labels: bool) -> dict[str, Any]:
    label = (
        {"type": "number", "minimum": -_LARGEST, "maximum": _LARGEST}
        if numeric_labels
        else {"type": ["string", "number", "boolean"]}
    )
    properties: dict[str, Any] = {
        "prediction_id": {"type": "string", "description": "From a prediction's answer."},
        "label": label | {"description": "The true value."},
    }
    item = {"type": "object", "properties": properties, "required": ["prediction_id", "label"]}
    # One item alone must not hold "feedback": a body that does is read as a batch.
    single = item | {"properties": properties | {"feedback": False}}
    batch = {
        "type": "object",
        "properties": {"feedback": {"type": "array", "items": item, "minItems": 1}},
        "required": ["feedback"],
    }
    return {"anyOf": [single, batch]}


def _operation(
    route: PostRoute,
    *,
    operation_id: str,
    request: dict[str, Any],
    reference: Callable[[type[BaseModel]], dict[str, Any]],
    guarded: bool,
    versions: list[str],
) -> dict[str, Any]:
    error = protocol.ProtocolError if speaks_protocol(route.path) else protocol.ErrorResponse
    errors = {"application/json": {"schema": reference(error)}}
    answer: dict[str, Any] = {"application/json": {"schema": reference(route.response)}}
    if route.handler == "infer":
        answer["application/octet-stream"] = {
            "schema": {"type": "string", "format": "binary"},
            "description": "Outputs asked for as binary data: the JSON answer, of "
            "Inference-Header-Content-Length bytes, then their raw bytes.",
        }
    responses: dict[str, Any] = {"200": {"description": "The answer.", "content": answer}}
    for status, description in error_descriptions(route.errors, guarded=guarded).items():
        responses[str(status)] = {"description": description, "content": errors}
    responses["500"] = {"description": "A bug: the server log says more.", "content": errors}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": operation_id,
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": dict(sorted(responses.items())),
    }
    if "{version}" in route.path:
        operation["parameters"] = [
            {
                "name": "version",
                "in": "path",
                "required": True,
                "description": "A registered version of the model; 404 if it has no such one.",
                "schema": {"type": "string", "examples": versions},
            }
        ]
    return operation


def document_post_routes(
    document: dict[str, Any],
    models: Mapping[str, ServedModel],
    *,
    default: ServedModel | None,
    numeric_labels: bool,
    guarded: frozenset[str] = frozenset(),
) -> None:
    """Add the POST routes, which FastAPI does not route, to an OpenAPI document: the
    per-model routes once per served model, ``/predict`` with the default model's rows.
    ``guarded`` names the handlers the API token guards (their routes may answer 401).

    Every 422 is documented with shipyard's error body (``detail`` and ``field``; on the
    protocol's ``/v2`` routes ``error`` and ``field``), which the server gives for bodies
    FastAPI validates too."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})

    def reference(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def rows_of(served: ServedModel) -> dict[str, Any]:
        schemas[f"{served.name}.Row"] = _row_schema(served)
        return {"$ref": f"#/components/schemas/{served.name}.Row"}

    error_body = reference(protocol.ErrorResponse)
    protocol_error = reference(protocol.ProtocolError)
    for path, item in document["paths"].items():
        body = protocol_error if speaks_protocol(path) else error_body
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                if status == "422" or content.get("schema") == error_body:
                    response["content"] = {"application/json": {"schema": body}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    examples = {  # the GET routes' {name} and {version}: what to try
        "name": sorted(models),
        "version": sorted({str(served.version) for served in models.values()}),
    }
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if examples.get(parameter["name"]):
                    parameter["schema"]["examples"] = examples[parameter["name"]]
    for route in POST_ROUTES:
        if route.per_model:
            for name, served in sorted(models.items()):
                request = (
                    _infer_request(served)
                    if route.handler == "infer"
                    else _predict_request(rows_of(served))
                )
                document["paths"][route.path.replace("{name}", name)] = {
                    "post": _operation(
                        route,
                        operation_id=f"{route.endpoint}.{name}",
                        request=request,
                        reference=reference,
                        guarded=route.handler in guarded,
                        versions=[str(served.version)],
                    )
                }
            continue
        if route.handler == "feedback":
            request = _feedback_request(numeric_labels)
        elif default is not None:
            request = _predict_request(rows_of(default))
        else:  # no default model: every request is answered 404
            request = reference(route.request)
        document["paths"][route.path] = {
            "post": _operation(
                route,
                operation_id=route.endpoint,
                request=request,
                reference=reference,
                guarded=route.handler in guarded,
                versions=[],
            )
        }
