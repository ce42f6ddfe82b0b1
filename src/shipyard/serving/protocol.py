"""Request and response bodies: the simple JSON form and the Open Inference Protocol v2.

Bodies are parsed with orjson and checked here by hand — the pydantic models below only
describe them in the OpenAPI document — so a one-row request does not pay for a generic
validator.  Every refusal is an ``InvalidRequest`` naming the field and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "OIP_TYPES",
    "ErrorResponse",
    "FeedbackBatch",
    "FeedbackItem",
    "FeedbackResponse",
    "InferRequest",
    "InferResponse",
    "ModelReadiness",
    "PredictRequest",
    "PredictResponse",
    "Readiness",
    "feedback_items",
    "finite",
    "infer_response",
    "instances",
    "oip_rows",
    "parse_json",
    "predict_response",
]

MAX_BATCH = 10_000
MAX_BODY_BYTES = 64 * 1024 * 1024
OIP_TYPES = {"BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
              "UINT64", "FP16", "FP32", "FP64", "BYTES"}  # fmt: skip


class PredictRequest(BaseModel):
    instances: list[dict[str, Any]] = Field(
        description="Rows to predict: column name -> value (null for missing).",
        min_length=1,
        max_length=MAX_BATCH,
    )


class PredictResponse(BaseModel):
    predictions: list[Any] = Field(
        description="One prediction per row (number or label); null at the 'shadow' "
        "automation level, where a person decides."
    )
    prediction_ids: list[str] = Field(description="Ids to send feedback for, one per row.")
    decisions: list[Literal["auto", "review"]] = Field(
        description="Per row: 'auto', the answer is a decision; 'review', it is a "
        "suggestion a person will review (see the model's automation level)."
    )
    model: str
    version: int
    arm: Literal["primary", "candidate"] = Field(
        default="primary",
        description="Who answered: the production version ('primary') or the candidate of "
        "the model's deployment.",
    )
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Classifiers: per row, class label -> probability."
    )


class InferInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferRequest(BaseModel):
    id: str | None = None
    inputs: list[InferInput] = Field(min_length=1)


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any] = Field(
        description="prediction_ids and decisions ('auto' or 'review'): one per row."
    )
    outputs: list[InferOutput]


class FeedbackItem(BaseModel):
    prediction_id: str
    label: Any = Field(description="The true value: a number or a class label.")


class FeedbackBatch(BaseModel):
    feedback: list[FeedbackItem] = Field(min_length=1)


class FeedbackResponse(BaseModel):
    recorded: int = Field(description="Labels stored.")
    replaced: int = Field(description="Of those, labels that replaced an earlier one.")


class Readiness(BaseModel):
    ready: bool = Field(description="Every served model is loaded.")


class ModelReadiness(BaseModel):
    name: str
    ready: bool


class ErrorResponse(BaseModel):
    detail: str = Field(description="What is wrong, and what to do.")
    field: str | None = Field(
        default=None, description="The body field at fault, e.g. instances[0].Lot_Area."
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}", field="body") from exc


def _batch_size(count: int, field: str) -> None:
    if count == 0:
        raise InvalidRequest(f"'{field}' is empty; send at least one row", field=field)
    if count > MAX_BATCH:
        raise InvalidRequest(
            f"'{field}' holds {count} rows; a request may hold at most {MAX_BATCH}", field=field
        )


def instances(payload: Any) -> list[dict[str, Any]]:
    """The rows of a simple JSON request: ``{"instances": [{column: value}, ...]}``."""
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidRequest(
            'the body must be an object with "instances": a list of rows', field="instances"
        )
    rows = payload["instances"]
    if not isinstance(rows, list):
        raise InvalidRequest("'instances' must be a list of rows", field="instances")
    _batch_size(len(rows), "instances")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidRequest(
                f"instances[{index}] must be an object of column: value, not {type(row).__name__}",
                field=f"instances[{index}]",
            )
    return rows


def require_columns(
    rows: Sequence[Mapping[str, Any]], required: frozenset[str], *, model: str, where: str
) -> None:
    """Refuse rows that lack a column the model's schema requires."""
    for index, row in enumerate(rows):
        missing = required.difference(row)
        if missing:
            column = min(missing)
            raise InvalidRequest(
                f"column '{column}' is missing from {where}[{index}]; the model expects "
                f"{len(required)} columns — see GET /v2/models/{model}",
                field=f"{where}[{index}].{column}",
            )


def oip_rows(payload: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Rows and request id of an Open Inference Protocol v2 request (one tensor a column)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidRequest('the body must be an object with "inputs": a list', field="inputs")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidRequest("'id' must be a string", field="id")
    columns: dict[str, list[Any]] = {}
    length: int | None = None
    for index, tensor in enumerate(payload["inputs"]):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        name, data, datatype = tensor.get("name"), tensor.get("data"), tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name must be a column name", field=f"{where}.name")
        if not isinstance(datatype, str) or datatype not in OIP_TYPES:
            raise InvalidRequest(
                f"{where}.datatype must be one of the v2 types (FP64, INT64, BYTES, BOOL...)",
                field=f"{where}.datatype",
            )
        if not isinstance(data, list):
            raise InvalidRequest(f"{where}.data must be a list", field=f"{where}.data")
        shape = tensor.get("shape")
        if not (
            isinstance(shape, list)
            and shape
            and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
            and shape[0] == len(data)
            and all(n == 1 for n in shape[1:])
        ):
            raise InvalidRequest(
                f"{where}.shape must be [rows] (or [rows, 1]) matching its {len(data)} values",
                field=f"{where}.shape",
            )
        if length is not None and len(data) != length:
            raise InvalidRequest(
                f"{where} has {len(data)} values but the inputs before it have {length}",
                field=f"{where}.data",
            )
        if name in columns:
            raise InvalidRequest(f"input '{name}' is given twice", field=f"{where}.name")
        length = len(data)
        columns[name] = data
    _batch_size(length or 0, "inputs")
    names = list(columns)
    values = list(columns.values())
    rows = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    return rows, request_id


def finite(value: Any) -> Any:
    """``value`` with every float that JSON cannot hold (inf, nan) as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def _decisions(decisions: list[str] | None, count: int) -> list[str]:
    return ["auto"] * count if decisions is None else decisions


def predict_response(
    name: str,
    version: int,
    predictions: Predictions,
    ids: list[str],
    *,
    arm: str = "primary",
    decisions: list[str] | None = None,
    blind: bool = False,
) -> dict[str, Any]:
    """``/predict``'s answer.  ``decisions`` says per row ``auto`` or ``review`` (None:
    all ``auto``); a ``blind`` answer (automation level ``shadow``) carries no values:
    a person decides, and the model's answer is only logged."""
    count = len(ids)
    body: dict[str, Any] = {
        "predictions": [None] * count if blind else predictions.values,
        "prediction_ids": ids,
        "decisions": _decisions(decisions, count),
        "model": name,
        "version": version,
        "arm": arm,
    }
    probabilities = predictions.probability_maps
    if probabilities is not None and not blind:
        body["probabilities"] = probabilities
    return body


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def infer_response(
    name: str,
    version: int,
    predictions: Predictions,
    ids: list[str],
    request_id: str | None,
    *,
    decisions: list[str] | None = None,
    blind: bool = False,
) -> dict[str, Any]:
    """The Open Inference Protocol's answer; ``parameters`` carry the prediction ids and
    the decisions, and a ``blind`` answer has no outputs (see ``predict_response``)."""
    values = predictions.values
    outputs = [
        {"name": "predict", "shape": [len(values)], "datatype": _datatype(values), "data": values}
    ]
    if blind:
        outputs = []
    elif predictions.probabilities is not None:
        rows, classes = predictions.probabilities.shape
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [rows, classes],
                "datatype": "FP64",
                "data": predictions.probabilities.ravel().tolist(),
            }
        )
    body: dict[str, Any] = {
        "model_name": name,
        "model_version": str(version),
        "parameters": {"prediction_ids": ids, "decisions": _decisions(decisions, len(ids))},
        "outputs": outputs,
    }
    if predictions.classes is not None:
        body["parameters"]["classes"] = predictions.classes
    if request_id is not None:
        body["id"] = request_id
    return body


def feedback_items(payload: Any, *, numeric: bool) -> dict[str, Any]:
    """``prediction_id -> label`` of a feedback body (one item, or ``{"feedback": [...]}``)."""
    if not isinstance(payload, dict) or "feedback" not in payload:
        items, where = [payload], "body"
    else:
        items = payload["feedback"]
        where = "feedback"
        if not isinstance(items, list) or not items:
            raise InvalidRequest("'feedback' must be a non-empty list", field="feedback")
    labels: dict[str, Any] = {}
    for index, item in enumerate(items):
        place = where if where == "body" else f"feedback[{index}]"
        if not isinstance(item, dict) or "prediction_id" not in item or "label" not in item:
            raise InvalidRequest(
                f'{place} must be an object with "prediction_id" and "label"', field=place
            )
        prediction_id, label = item["prediction_id"], item["label"]
        if not isinstance(prediction_id, str):
            raise InvalidRequest(
                f"{place}.prediction_id must be a string", field=f"{place}.prediction_id"
            )
        valid = isinstance(label, str | int | float) and (
            not numeric or (isinstance(label, int | float) and not isinstance(label, bool))
        )
        if not valid:
            expected = "a number" if numeric else "a number, a string or a boolean"
            raise InvalidRequest(
                f"{place}.label must be {expected}, not {type(label).__name__}",
                field=f"{place}.label",
            )
        labels[prediction_id] = label
    return labels
