"""The binary tensor data extension: raw tensors after a JSON header, both ways."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.serving import protocol, tensors


def texts(*values: str) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def binary_request(inputs: list[tuple[str, str, list[int], bytes]], **extra: Any) -> bytes:
    """A hand-made body: the JSON header, then each input's raw bytes."""
    header = {
        "inputs": [
            {"name": name, "datatype": kind, "shape": shape,
             "parameters": {"binary_data_size": len(raw)}}
            for name, kind, shape, raw in inputs
        ]
    } | extra  # fmt: skip
    return orjson.dumps(header) + b"".join(raw for *_, raw in inputs)


def read(body: bytes, header_length: int) -> protocol.OipRequest:
    head, raw = tensors.split_body(body, str(header_length).encode())
    return protocol.oip_request(protocol.parse_json(head), raw)


def refusal(body: bytes, header_length: int) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        read(body, header_length)
    return caught.value


@pytest.mark.parametrize(
    "datatype",
    ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
     "FP16", "FP32", "FP64"],
)  # fmt: skip
def test_numeric_tensors_are_read_little_endian_as_numpy_columns(datatype: str) -> None:
    values = np.array([1, 0, 1], dtype=tensors.NUMPY_TYPES[datatype])
    raw = values.astype(values.dtype.newbyteorder("<")).tobytes()
    body = binary_request([("a", datatype, [3, 1], raw)])
    request = read(body, len(body) - len(raw))
    column = request.columns["a"]
    assert isinstance(column, np.ndarray) and column.dtype == values.dtype
    assert [row["a"] for row in request.rows()] == values.tolist()


def test_bytes_tensors_are_text_after_a_length_and_mix_with_json_inputs() -> None:
    numbers = np.array([1.5, np.nan], dtype="<f8").tobytes()
    words = texts("north", "")
    head = orjson.dumps(
        {
            "id": "r",
            "inputs": [
                {"name": "size", "datatype": "FP64", "shape": [2],
                 "parameters": {"binary_data_size": len(numbers)}},
                {"name": "heating", "datatype": "BYTES", "shape": [2], "data": ["gas", None]},
                {"name": "area", "datatype": "BYTES", "shape": [2],
                 "parameters": {"binary_data_size": len(words)}},
            ],
        }
    )  # fmt: skip
    request = read(head + numbers + words, len(head))
    first, second = request.rows()
    assert first == {"size": 1.5, "heating": "gas", "area": "north"}
    assert second["size"] != second["size"]  # NaN: a missing number, as null is in JSON
    assert (second["heating"], second["area"]) == (None, None)  # an empty element: missing
    assert request.id == "r"


@pytest.mark.parametrize(
    ("body", "header_length", "field", "words"),
    [
        # The header says more than the body holds.
        (b'{"inputs": []}', 400, "Inference-Header-Content-Length", "only 14 bytes"),
        (b'{"inputs": []}', -1, "Inference-Header-Content-Length", "a number of bytes"),
        # The body ends before the last input's bytes: truncated in transit.
        (binary_request([("a", "FP64", [2], bytes(16))])[:-3], None,
         "inputs[0].parameters.binary_data_size", "only 13 bytes"),
        # Bytes left over that no input accounts for.
        (binary_request([("a", "FP64", [1], bytes(8))]) + b"xx", None, "body", "2 bytes"),
        # A size that is not whole elements, a shape that does not match the elements.
        (binary_request([("a", "FP64", [1], bytes(7))]), None,
         "inputs[0].parameters.binary_data_size", "whole number"),
        (binary_request([("a", "INT32", [3], bytes(8))]), None, "inputs[0].shape", "2 values"),
        (binary_request([("a", "BF16", [1], bytes(2))]), None, "inputs[0].datatype", "v2 types"),
        # A BYTES element longer than its tensor, a length cut short, text that is not UTF-8.
        (binary_request([("a", "BYTES", [1], struct.pack("<I", 9) + b"abc")]), None,
         "inputs[0].parameters.binary_data_size", "says it is 9 bytes"),
        (binary_request([("a", "BYTES", [1], b"\x01\x00")]), None,
         "inputs[0].parameters.binary_data_size", "4-byte length"),
        (binary_request([("a", "BYTES", [1], texts("ok")[:4] + b"\xff\xfe")]), None,
         "inputs[0].data", "not UTF-8"),
        (binary_request([("a", "BOOL", [1], b"\x02")]), None, "inputs[0].parameters", "BOOL"),
        # Binary inputs of different lengths.
        (binary_request([("a", "FP64", [1], bytes(8)), ("b", "FP64", [2], bytes(16))]), None,
         "inputs[1].data", "inputs before it have 1"),
    ],
)  # fmt: skip
def test_bad_binary_bodies_are_refused_naming_the_field(
    body: bytes, header_length: int | None, field: str, words: str
) -> None:
    if header_length is None:  # the JSON header is the body up to its first raw byte
        header_length = body.index(b"}]}") + 3
    error = refusal(body, header_length)
    assert error.field == field
    assert words in str(error)


def test_binary_sizes_without_the_header_are_refused() -> None:
    body = {"inputs": [{"name": "a", "datatype": "FP64", "shape": [1],
                        "parameters": {"binary_data_size": 8}}]}  # fmt: skip
    with pytest.raises(InvalidRequest) as caught:
        protocol.oip_request(body)
    assert "Inference-Header-Content-Length" in str(caught.value)


def test_answers_go_back_as_binary_outputs_when_asked() -> None:
    predictions = Predictions(
        values=["yes", "no"], probabilities=np.array([[0.25, 0.75], [0.5, 0.5]]),
        classes=["no", "yes"],
    )  # fmt: skip
    body = protocol.infer_response("m", 2, predictions, ["i", "j"], "r")
    answer = tensors.binary_answer(body, ["predict_proba"])
    header = orjson.loads(answer.content[: answer.header_length])
    predict, proba = header["outputs"]
    assert predict["data"] == ["yes", "no"]
    assert proba["parameters"] == {"binary_data_size": 32} and "data" not in proba
    raw = answer.content[answer.header_length :]
    assert np.frombuffer(raw, dtype="<f8").tolist() == [0.25, 0.75, 0.5, 0.5]
    assert dict(answer.headers())[tensors.HEADER_LENGTH] == str(answer.header_length).encode()

    labels = tensors.binary_answer(
        protocol.infer_response("m", 2, predictions, ["i", "j"], None, outputs={"predict": True}),
        ["predict"],
    )
    (only,) = orjson.loads(labels.content[: labels.header_length])["outputs"]
    assert only["name"] == "predict"
    assert labels.content[labels.header_length :] == texts("yes", "no")
