"""The Open Inference Protocol as real clients speak it: NVIDIA's tritonclient (HTTP), with
its default binary tensors and with JSON, against a real server on a loopback port; and
hand-made binary bodies, good and bad."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from shipyard import Project
from tests.e2e.serving_fixtures import RunningServer, rows, served, trained_twice

MODEL = "houses"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier (outputs predict, BYTES, and predict_proba, FP64 [rows, 2]) with
    versions 1 (production) and 2."""
    return trained_twice(tmp_path_factory.mktemp("oip") / MODEL, task="classification")


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[RunningServer]:
    yield from served(folder)


@pytest.fixture
def client(server: RunningServer) -> Iterator[triton.InferenceServerClient]:
    made = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        yield made
    finally:
        made.close()


def held_out(count: int, *, complete: bool) -> list[dict[str, Any]]:
    """Rows the model was not trained on.  ``complete`` leaves out rows with a missing
    value, for JSON tensors: tritonclient writes a missing number as NaN, which is not
    JSON, and has no null for text.  Binary tensors send a missing number as NaN and
    missing text as an empty element."""
    kept = [
        row
        for row in rows(200, seed=31, task="classification")
        if not (complete and (row["heating"] is None or row["age"] is None))
    ]
    return kept[:count]


def inputs_of(
    batch: list[dict[str, Any]], metadata: dict[str, Any], *, binary: bool
) -> list[triton.InferInput]:
    """One tensor per input the model's metadata lists, of the datatype it lists."""
    made = []
    for entry in metadata["inputs"]:
        name, datatype = entry["name"], entry["datatype"]
        values = [row[name] for row in batch]
        if datatype == "BYTES":
            array = np.array(["" if v is None else v for v in values], dtype=np.object_)
        else:
            array = np.array([np.nan if v is None else v for v in values])
            array = array.astype(triton_to_np_dtype(datatype))
        tensor = triton.InferInput(name, list(array.shape), datatype)
        made.append(tensor.set_data_from_numpy(array, binary_data=binary))
    return made


def predicted(server: RunningServer, batch: list[dict[str, Any]]) -> dict[str, Any]:
    with server.client() as http:
        answer = http.post("/predict", json={"instances": batch})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def probabilities(answer: dict[str, Any], classes: list[str]) -> np.ndarray:
    return np.array([[row[label] for label in classes] for row in answer["probabilities"]])


def test_tritonclient_defaults_binary_tensors_get_predicts_answers(
    client: triton.InferenceServerClient, server: RunningServer
) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL)
    metadata = client.get_model_metadata(MODEL)
    batch = held_out(40, complete=False)
    assert any(row["age"] is None for row in batch)  # sent as NaN: a missing number
    assert any(row["heating"] is None for row in batch)  # an empty element: missing text

    result = client.infer(MODEL, inputs_of(batch, metadata, binary=True))

    answer = result.get_response()
    assert all("binary_data_size" in output["parameters"] for output in answer["outputs"])
    expected = predicted(server, batch)
    labels = [label.decode() for label in result.as_numpy("predict")]
    assert labels == expected["predictions"]
    classes = answer["parameters"]["classes"]
    proba = result.as_numpy("predict_proba")
    assert proba.shape == (40, 2)
    np.testing.assert_array_equal(proba, probabilities(expected, classes))
    assert (answer["model_name"], answer["model_version"]) == (MODEL, "1")
    assert len(set(answer["parameters"]["prediction_ids"])) == 40


def test_tritonclient_json_tensors_get_predicts_answers(
    client: triton.InferenceServerClient, server: RunningServer
) -> None:
    metadata = client.get_model_metadata(MODEL)
    batch = held_out(25, complete=True)
    outputs = [
        triton.InferRequestedOutput("predict", binary_data=False),
        triton.InferRequestedOutput("predict_proba", binary_data=False),
    ]

    result = client.infer(
        MODEL, inputs_of(batch, metadata, binary=False), outputs=outputs, request_id="r7"
    )

    answer = result.get_response()
    assert answer["id"] == "r7" and all("data" in output for output in answer["outputs"])
    expected = predicted(server, batch)
    # tritonclient gives JSON's BYTES as str, binary ones as bytes.
    assert result.as_numpy("predict").tolist() == expected["predictions"]
    np.testing.assert_array_equal(
        result.as_numpy("predict_proba"), probabilities(expected, answer["parameters"]["classes"])
    )
    # Only the outputs asked for, each as asked: here predict alone, as binary data.
    only = client.infer(
        MODEL,
        inputs_of(batch, metadata, binary=True),
        outputs=[triton.InferRequestedOutput("predict")],
    )
    assert [output["name"] for output in only.get_response()["outputs"]] == ["predict"]
    assert [label.decode() for label in only.as_numpy("predict")] == expected["predictions"]


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_reads_a_422s_message(
    client: triton.InferenceServerClient, binary: bool
) -> None:
    metadata = client.get_model_metadata(MODEL)
    inputs = inputs_of(held_out(3, complete=True), metadata, binary=binary)
    size = triton.InferInput("size", [3], "BYTES")
    inputs[0] = size.set_data_from_numpy(np.array(["big"] * 3, dtype=np.object_), binary)

    with pytest.raises(InferenceServerException) as caught:
        client.infer(MODEL, inputs)

    assert caught.value.status() == "422"
    assert "column 'size'" in caught.value.message()
    assert "expected a number, got the text 'big'" in caught.value.message()


def test_tritonclient_asks_for_registered_versions(
    client: triton.InferenceServerClient, server: RunningServer, folder: Path
) -> None:
    metadata = client.get_model_metadata(MODEL, "2")
    assert metadata["versions"] == ["2"]
    batch = held_out(30, complete=False)
    with Project.open(folder) as project:
        second = project.registry.load(f"{MODEL}:2").predict(pd.DataFrame(batch))

    result = client.infer(MODEL, inputs_of(batch, metadata, binary=True), model_version="2")

    assert result.get_response()["model_version"] == "2"
    assert [label.decode() for label in result.as_numpy("predict")] == second.values
    np.testing.assert_array_equal(result.as_numpy("predict_proba"), second.probabilities)
    first = client.infer(MODEL, inputs_of(batch, metadata, binary=True), model_version="1")
    labels = [label.decode() for label in first.as_numpy("predict")]
    assert labels == predicted(server, batch)["predictions"]

    for version in ("9", "latest"):
        with pytest.raises(InferenceServerException) as caught:
            client.get_model_metadata(MODEL, version)
        assert caught.value.status() == "404"
        assert "has no version" in caught.value.message()
    with pytest.raises(InferenceServerException) as caught:
        client.infer(MODEL, inputs_of(batch, metadata, binary=True), model_version="9")
    assert caught.value.status() == "404"
    assert "has no version 9 (registered: 1, 2)" in caught.value.message()


# -- hand-made binary bodies --------------------------------------------------------------


def texts(*values: str) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def binary_body(batch: list[dict[str, Any]], **parameters: Any) -> tuple[bytes, int]:
    """Every column as binary data: numbers FP64 or INT64, text as BYTES."""
    ages = [np.nan if r["age"] is None else r["age"] for r in batch]
    tensors = [
        ("size", "FP64", np.array([r["size"] for r in batch], "<f8").tobytes()),
        ("rooms", "INT64", np.array([r["rooms"] for r in batch], "<i8").tobytes()),
        ("age", "FP64", np.array(ages, "<f8").tobytes()),
        ("area", "BYTES", texts(*(r["area"] for r in batch))),
        ("heating", "BYTES", texts(*(r["heating"] or "" for r in batch))),
    ]  # fmt: skip
    header = orjson.dumps(
        {
            "inputs": [
                {"name": name, "datatype": kind, "shape": [len(batch)],
                 "parameters": {"binary_data_size": len(raw)}}
                for name, kind, raw in tensors
            ],
            "parameters": parameters,
        }
    )  # fmt: skip
    return header + b"".join(raw for *_, raw in tensors), len(header)


def post_binary(server: RunningServer, body: bytes, header_length: int | str) -> httpx.Response:
    with server.client() as http:
        return http.post(
            f"/v2/models/{MODEL}/infer",
            content=body,
            headers={
                "Content-Type": "application/octet-stream",
                "Inference-Header-Content-Length": str(header_length),
            },
        )


def test_hand_made_binary_bodies_are_answered_in_json_or_binary(server: RunningServer) -> None:
    batch = held_out(5, complete=False)
    expected = predicted(server, batch)
    body, length = binary_body(batch)
    answer = post_binary(server, body, length)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == expected["predictions"]

    body, length = binary_body(batch, binary_data_output=True)
    answer = post_binary(server, body, length)
    assert answer.headers["content-type"] == "application/octet-stream"
    header_length = int(answer.headers["inference-header-content-length"])
    header = orjson.loads(answer.content[:header_length])
    predict, proba = header["outputs"]
    raw = answer.content[header_length:]
    assert raw[: predict["parameters"]["binary_data_size"]] == texts(*expected["predictions"])
    np.testing.assert_array_equal(
        np.frombuffer(raw[predict["parameters"]["binary_data_size"] :], "<f8").reshape(5, 2),
        probabilities(expected, header["parameters"]["classes"]),
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ("truncate", "inputs[4].parameters.binary_data_size", "bytes of binary data are left"),
        ("header too long", "Inference-Header-Content-Length", "the body is only"),
        ("header cut", "body", "not valid JSON"),
        ("size mismatch", "inputs[0].shape", "matching its 5 values"),
        ("unknown datatype", "inputs[0].datatype", "one of the v2 types"),
    ],
)
def test_bad_binary_bodies_get_422_naming_the_field(
    server: RunningServer, change: str, field: str, words: str
) -> None:
    body, length = binary_body(held_out(5, complete=False))
    header: Any = length
    if change == "truncate":
        body = body[:-4]
    elif change == "header too long":
        header = len(body) + 1
    elif change == "header cut":
        header = length - 2
    elif change == "size mismatch":
        body = body.replace(b'"shape":[5]', b'"shape":[6]', 1)
    else:
        body = body.replace(b'"FP64"', b'"FP63"', 1)

    answer = post_binary(server, body, header)

    assert answer.status_code == 422
    error = answer.json()
    assert error["field"] == field and words in error["error"]


def test_protocol_routes_answer_errors_in_error_and_the_document_says_so(
    server: RunningServer,
) -> None:
    with server.client() as http:
        unknown = http.get("/v2/models/nope")
        assert unknown.status_code == 404 and "model 'nope'" in unknown.json()["error"]
        missing = http.get(f"/v2/models/{MODEL}/versions/7").json()
        assert missing["error"].startswith("model 'houses' has no version 7")
        assert "error" in http.get("/v2/no/such/route").json()
        assert "error" in http.put(f"/v2/models/{MODEL}/infer").json()  # 405
        simple = http.post("/predict", json={"instances": []})  # keeps its own shape
        assert set(simple.json()) == {"detail", "field"}
        document = http.get("/openapi.json").json()

    def error_schema(path: str, method: str, status: str) -> str:
        response = document["paths"][path][method]["responses"][status]
        return str(response["content"]["application/json"]["schema"]["$ref"])

    protocol_error = "#/components/schemas/ProtocolError"
    assert error_schema(f"/v2/models/{MODEL}/infer", "post", "422") == protocol_error
    assert error_schema(f"/v2/models/{MODEL}/versions/{{version}}/infer", "post", "404") == (
        protocol_error
    )
    assert error_schema("/v2/models/{name}/versions/{version}", "get", "404") == protocol_error
    assert error_schema("/predict", "post", "422") == "#/components/schemas/ErrorResponse"
    infer = document["paths"][f"/v2/models/{MODEL}/infer"]["post"]
    assert "application/octet-stream" in infer["responses"]["200"]["content"]
    assert "Inference-Header-Content-Length" in str(infer["requestBody"])
