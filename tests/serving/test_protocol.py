"""Request bodies are read, and refused, by hand: each refusal names its field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.serving import protocol


def refusal(call: Any, *args: Any, **kwargs: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        call(*args, **kwargs)
    return caught.value


def test_json_bodies_are_parsed_and_bad_ones_refused() -> None:
    assert protocol.parse_json(b'{"a": [1, null]}') == {"a": [1, None]}
    assert refusal(protocol.parse_json, b"{nope").field == "body"


def test_instances_are_a_non_empty_bounded_list_of_objects() -> None:
    rows = [{"x": 1}, {}]
    assert protocol.instances({"instances": rows}) is rows
    cases = [
        ([], "instances"),
        ({"rows": []}, "instances"),
        ({"instances": {}}, "instances"),
        ({"instances": []}, "instances"),
        ({"instances": [{}] * (protocol.MAX_BATCH + 1)}, "instances"),
        ({"instances": [{}, 3]}, "instances[1]"),
    ]
    for payload, field in cases:
        assert refusal(protocol.instances, payload).field == field, payload


def test_required_columns_are_named_with_their_row() -> None:
    protocol.require_columns([{"a": 1, "b": None}], frozenset({"a", "b"}), model="m", where="w")
    error = refusal(
        protocol.require_columns,
        [{"a": 1, "b": 2}, {"a": 1}],
        frozenset({"a", "b"}),
        model="m",
        where="instances",
    )
    assert error.field == "instances[1].b"
    assert "GET /v2/models/m" in str(error)


def test_rows_of_one_body_are_checked_each() -> None:
    required = frozenset({"a", "b"})
    body = b'{"instances": [{"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": 5, "c": 6}]}'
    rows = protocol.instances(protocol.parse_json(body))
    protocol.require_columns(rows[:2], required, model="m", where="instances")
    error = refusal(protocol.require_columns, rows, required, model="m", where="instances")
    assert error.field == "instances[2].b"
    error = refusal(protocol.require_columns, rows[::-1], required, model="m", where="instances")
    assert error.field == "instances[0].b"


def tensor(name: str, data: list[Any], **changes: Any) -> dict[str, Any]:
    return {"name": name, "shape": [len(data)], "datatype": "FP64", "data": data} | changes


def test_open_inference_tensors_become_rows() -> None:
    payload = {"id": "r1", "inputs": [tensor("a", [1, 2]), tensor("b", ["x", "y"], shape=[2, 1])]}
    request = protocol.oip_request(payload)
    assert request.rows() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert request.id == "r1"
    assert request.outputs is None and not request.binary("predict")


def test_outputs_asked_for_and_how() -> None:
    payload = {
        "inputs": [tensor("a", [1])],
        "parameters": {"binary_data_output": True},
        "outputs": [
            {"name": "predict"},
            {"name": "predict_proba", "parameters": {"binary_data": False}},
        ],
    }
    request = protocol.oip_request(payload)
    assert request.outputs == {"predict": True, "predict_proba": False}
    assert request.binary("predict") and not request.binary("predict_proba")
    request.check_outputs(["predict", "predict_proba"], model="m")
    assert refusal(request.check_outputs, ["predict"], model="m").field == "outputs[1].name"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"inputs": {}}, "inputs"),
        ({"id": 3, "inputs": [tensor("a", [1])]}, "id"),
        ({"inputs": [3]}, "inputs[0]"),
        ({"inputs": [tensor("", [1])]}, "inputs[0].name"),
        ({"inputs": [tensor("a", [1], datatype="FP65")]}, "inputs[0].datatype"),
        ({"inputs": [tensor("a", [1], datatype={})]}, "inputs[0].datatype"),
        ({"inputs": [tensor("a", [1], shape=[2])]}, "inputs[0].shape"),
        ({"inputs": [tensor("a", [1], shape=[1, 2])]}, "inputs[0].shape"),
        ({"inputs": [tensor("a", [1], shape=[True])]}, "inputs[0].shape"),
        ({"inputs": [tensor("a", [1]) | {"data": 3}]}, "inputs[0].data"),
        ({"inputs": [tensor("a", [1]), tensor("b", [1, 2])]}, "inputs[1].data"),
        ({"inputs": [tensor("a", [1]), tensor("a", [2])]}, "inputs[1].name"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [tensor("a", [])]}, "inputs"),
        ({"inputs": [tensor("a", [1])], "parameters": 1}, "parameters"),
        ({"inputs": [tensor("a", [1])], "parameters": {"binary_data_output": 1}},
         "parameters.binary_data_output"),
        ({"inputs": [tensor("a", [1])], "outputs": {}}, "outputs"),
        ({"inputs": [tensor("a", [1])], "outputs": [{}]}, "outputs[0]"),
        ({"inputs": [tensor("a", [1], parameters={"binary_data_size": 8})]}, "inputs[0].data"),
        ({"inputs": [tensor("a", [1], parameters={"binary_data_size": -1})]},
         "inputs[0].parameters.binary_data_size"),
        ({"inputs": [tensor("a", [1], parameters=[])]}, "inputs[0].parameters"),
    ],
)  # fmt: skip
def test_open_inference_requests_are_refused_naming_the_field(
    payload: dict[str, Any], field: str
) -> None:
    assert refusal(protocol.oip_request, payload).field == field


def test_feedback_is_one_item_or_a_batch() -> None:
    assert protocol.feedback_items({"prediction_id": "a", "label": 2.5}, numeric=True) == {"a": 2.5}
    batch = {"feedback": [{"prediction_id": "a", "label": "x"}, {"prediction_id": "b", "label": 1}]}
    assert protocol.feedback_items(batch, numeric=False) == {"a": "x", "b": 1}


@pytest.mark.parametrize(
    ("payload", "numeric", "field"),
    [
        ({"feedback": []}, False, "feedback"),
        ({"feedback": None, "prediction_id": "a", "label": 1}, False, "feedback"),
        ({"feedback": [3]}, False, "feedback[0]"),
        ({"prediction_id": "a"}, False, "body"),
        ({"prediction_id": 1, "label": 1}, False, "body.prediction_id"),
        ({"prediction_id": "a", "label": "tall"}, True, "body.label"),
        ({"prediction_id": "a", "label": True}, True, "body.label"),
        ({"prediction_id": "a", "label": None}, False, "body.label"),
        ([1], False, "body"),
    ],
)
def test_feedback_is_refused_naming_the_field(payload: Any, numeric: bool, field: str) -> None:
    assert refusal(protocol.feedback_items, payload, numeric=numeric).field == field


def test_answers_carry_ids_probabilities_and_typed_outputs() -> None:
    regression = Predictions(values=[1.5, 2.0], probabilities=None, classes=None)
    body = protocol.predict_response("m", 3, regression, ["i", "j"], arm="candidate")
    assert body == {"predictions": [1.5, 2.0], "prediction_ids": ["i", "j"], "model": "m",
                    "version": 3, "arm": "candidate", "decisions": ["auto", "auto"]}  # fmt: skip
    infer = protocol.infer_response("m", 3, regression, ["i", "j"], "r")
    assert infer["outputs"] == [{"name": "predict", "shape": [2], "datatype": "FP64",
                                 "data": [1.5, 2.0]}]  # fmt: skip
    assert (infer["model_version"], infer["id"]) == ("3", "r")

    probabilities = np.array([[0.25, 0.75]])
    labels = Predictions(values=["yes"], probabilities=probabilities, classes=["no", "yes"])
    assert protocol.predict_response("m", 1, labels, ["i"])["probabilities"] == [
        {"no": 0.25, "yes": 0.75}
    ]
    outputs = protocol.infer_response("m", 1, labels, ["i"], None)["outputs"]
    assert [(o["name"], o["datatype"], o["shape"]) for o in outputs] == [
        ("predict", "BYTES", [1]),
        ("predict_proba", "FP64", [1, 2]),
    ]


def test_blind_answers_carry_decisions_and_no_values() -> None:
    labels = Predictions(
        values=["yes"], probabilities=np.array([[0.2, 0.8]]), classes=["no", "yes"]
    )
    body = protocol.predict_response("m", 1, labels, ["i"], decisions=["review"], blind=True)
    assert body["predictions"] == [None] and "probabilities" not in body
    assert body["decisions"] == ["review"]
    infer = protocol.infer_response("m", 1, labels, ["i"], None, decisions=["review"], blind=True)
    assert infer["outputs"] == [] and infer["parameters"]["decisions"] == ["review"]
    shown = protocol.predict_response("m", 1, labels, ["i"], decisions=["review"])
    assert shown["predictions"] == ["yes"] and shown["decisions"] == ["review"]
