"""Request and response bodies: the simple JSON form and the Open Inference Protocol v2.

Bodies are parsed with orjson and checked here by hand — the pydantic models below only
describe them in the OpenAPI document — so a one-row request does not pay for a generic
validator.  Every refusal is an ``InvalidRequest`` naming the field and the reason.
An Open Inference Protocol request may carry its tensors as raw bytes after its JSON
(the binary tensor data extension, see ``tensors``); they are checked the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, Field

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.serving import tensors

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
    "OipRequest",
    "PredictRequest",
    "ProtocolError",
    "PredictResponse",
    "Readiness",
    "feedback_items",
    "finite",
    "infer_response",
    "instances",
    "oip_request",
    "parse_json",
    "predict_response",
]

MAX_BATCH = 10_000
MAX_BODY_BYTES = 64 * 1024 * 1024
OIP_TYPES = frozenset({*tensors.NUMPY_TYPES, "BYTES"})


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
    data: list[Any] | None = Field(
        default=None, description="The values; absent when sent as binary data."
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_size: the bytes of binary data it takes."
    )


class RequestedOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data: whether it is sent as binary data."
    )


class InferRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_output: every output as binary data."
    )
    inputs: list[InferInput] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | None = Field(
        default=None, description="The values; absent when sent as binary data."
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="binary_data_size: the bytes of binary data it takes."
    )


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


class ProtocolError(BaseModel):
    """The error body of the Open Inference Protocol's routes (``/v2/...``)."""

    error: str = Field(description="What is wrong, and what to do.")
    field: str | None = Field(
        default=None, description="The body field at fault, e.g. inputs[0].shape."
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
        # A row with the first row's keys has what the first row has: comparing the
        # keys is quicker than looking each required name up (the rows of one JSON
        # body share their key objects, which a dict finds without comparing text).
        if index and row.keys() == rows[0].keys():
            continue
        missing = required.difference(row)
        if missing:
            column = min(missing)
            raise InvalidRequest(
                f"column '{column}' is missing from {where}[{index}]; the model expects "
                f"{len(required)} columns — see GET /v2/models/{model}",
                field=f"{where}[{index}].{column}",
            )


@dataclass(frozen=True, slots=True)
class OipRequest:
    """An Open Inference Protocol request, read: one column per input tensor (a numeric
    tensor sent as binary data stays a numpy array), the request's id, and the outputs
    asked for: ``outputs`` maps each name to whether it goes back as binary data (None:
    every output, as binary data if ``binary_outputs``)."""

    columns: dict[str, tensors.Column]
    id: str | None = None
    outputs: dict[str, bool] | None = None
    binary_outputs: bool = False

    def rows(self) -> list[dict[str, Any]]:
        """The request's rows, column name -> value, for the rows path."""
        names = list(self.columns)
        # The rows path and the prediction log read Python values: numpy's tolist makes
        # them in one C loop per column.
        values = [
            column.tolist() if isinstance(column, np.ndarray) else column
            for column in self.columns.values()
        ]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    def check_outputs(self, available: Sequence[str], *, model: str) -> None:
        """Refuse an output asked for that the model does not give."""
        for index, name in enumerate(self.outputs or ()):
            if name not in available:
                raise InvalidRequest(
                    f"outputs[{index}]: model '{model}' has no output {name!r}; it gives "
                    f"{', '.join(available)} — see GET /v2/models/{model}",
                    field=f"outputs[{index}].name",
                )

    def binary(self, output: str) -> bool:
        """Whether ``output`` goes back as binary data."""
        if self.outputs is None:
            return self.binary_outputs
        return self.outputs.get(output, False)


def _flag(parameters: Any, key: str, where: str) -> bool | None:
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise InvalidRequest(f"{where} must be an object", field=where)
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"{where}.{key} must be true or false", field=f"{where}.{key}")
    return value


def _requested_outputs(payload: dict[str, Any], default: bool) -> dict[str, bool] | None:
    requested = payload.get("outputs")
    if requested is None:
        return None
    if not isinstance(requested, list):
        raise InvalidRequest("'outputs' must be a list", field="outputs")
    outputs: dict[str, bool] = {}
    for index, output in enumerate(requested):
        where = f"outputs[{index}]"
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str):
            raise InvalidRequest(f"{where} must be an object with a name", field=where)
        binary = _flag(output.get("parameters"), "binary_data", f"{where}.parameters")
        outputs[name] = default if binary is None else binary
    return outputs


def _binary_size(tensor: dict[str, Any], where: str) -> int | None:
    parameters = tensor.get("parameters")
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise InvalidRequest(f"{where}.parameters must be an object", field=f"{where}.parameters")
    size = parameters.get("binary_data_size")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidRequest(
            f"{where}.parameters.binary_data_size must be a number of bytes",
            field=f"{where}.parameters.binary_data_size",
        )
    return size


def _column(
    tensor: dict[str, Any], datatype: str, where: str, raw: memoryview | None, offset: int
) -> tuple[tensors.Column, int, int]:
    """A tensor's values, how many, and the bytes of ``raw`` it took."""
    size = _binary_size(tensor, where)
    if size is None:
        data = tensor.get("data")
        if not isinstance(data, list):
            raise InvalidRequest(f"{where}.data must be a list", field=f"{where}.data")
        return data, len(data), 0
    if "data" in tensor:
        raise InvalidRequest(
            f"{where} has both data and parameters.binary_data_size; send one of them",
            field=f"{where}.data",
        )
    if raw is None:
        raise InvalidRequest(
            f"{where} has parameters.binary_data_size but the request has no "
            "Inference-Header-Content-Length header saying where its binary data starts",
            field=f"{where}.parameters.binary_data_size",
        )
    left = len(raw) - offset
    if size > left:
        raise InvalidRequest(
            f"{where}.parameters.binary_data_size is {size} bytes, but only {left} bytes "
            "of binary data are left in the body",
            field=f"{where}.parameters.binary_data_size",
        )
    values, count = tensors.decode(raw[offset : offset + size], datatype, where)
    return values, count, size


def oip_request(payload: Any, raw: memoryview | None = None) -> OipRequest:
    """An Open Inference Protocol v2 request: ``payload`` is its JSON (or the JSON header
    of the binary tensor data extension, and ``raw`` the tensor bytes after it)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidRequest('the body must be an object with "inputs": a list', field="inputs")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidRequest("'id' must be a string", field="id")
    binary_outputs = _flag(payload.get("parameters"), "binary_data_output", "parameters")
    columns: dict[str, tensors.Column] = {}
    length: int | None = None
    offset = 0
    for index, tensor in enumerate(payload["inputs"]):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict):
            raise InvalidRequest(f"{where} must be an object", field=where)
        name, datatype = tensor.get("name"), tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.name must be a column name", field=f"{where}.name")
        if not isinstance(datatype, str) or datatype not in OIP_TYPES:
            raise InvalidRequest(
                f"{where}.datatype must be one of the v2 types (FP64, INT64, BYTES, BOOL...)",
                field=f"{where}.datatype",
            )
        values, count, taken = _column(tensor, datatype, where, raw, offset)
        offset += taken
        shape = tensor.get("shape")
        if not (
            isinstance(shape, list)
            and shape
            and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
            and shape[0] == count
            and all(n == 1 for n in shape[1:])
        ):
            raise InvalidRequest(
                f"{where}.shape must be [rows] (or [rows, 1]) matching its {count} values",
                field=f"{where}.shape",
            )
        if length is not None and count != length:
            raise InvalidRequest(
                f"{where} has {count} values but the inputs before it have {length}",
                field=f"{where}.data",
            )
        if name in columns:
            raise InvalidRequest(f"input '{name}' is given twice", field=f"{where}.name")
        length = count
        columns[name] = values
    if raw is not None and offset != len(raw):
        raise InvalidRequest(
            f"the body has {len(raw) - offset} bytes of binary data that no input's "
            "parameters.binary_data_size accounts for",
            field="body",
        )
    _batch_size(length or 0, "inputs")
    return OipRequest(
        columns,
        request_id,
        _requested_outputs(payload, bool(binary_outputs)),
        bool(binary_outputs),
    )


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
    outputs: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The Open Inference Protocol's answer; ``parameters`` carry the prediction ids and
    the decisions, and a ``blind`` answer has no outputs (see ``predict_response``).
    ``outputs`` names the outputs asked for (None: all).  ``predict_proba``'s data is a
    numpy array: it is written by orjson, or as binary data, without a list between."""
    values = predictions.values
    answered: list[dict[str, Any]] = [
        {"name": "predict", "shape": [len(values)], "datatype": _datatype(values), "data": values}
    ]
    if blind:
        answered = []
    elif predictions.probabilities is not None:
        rows, classes = predictions.probabilities.shape
        answered.append(
            {
                "name": "predict_proba",
                "shape": [rows, classes],
                "datatype": "FP64",
                "data": predictions.probabilities.ravel(),
            }
        )
    if outputs is not None:
        answered = [output for output in answered if output["name"] in outputs]
    body: dict[str, Any] = {
        "model_name": name,
        "model_version": str(version),
        "parameters": {"prediction_ids": ids, "decisions": _decisions(decisions, len(ids))},
        "outputs": answered,
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
