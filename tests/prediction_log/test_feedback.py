"""Feedback: one label per logged prediction, checked before anything is stored."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard import InvalidRequest, RecordNotFound
from shipyard.prediction_log import PredictionLog
from shipyard.prediction_log.feedback import checked_label, labels_frame, unknown_predictions
from tests.prediction_log.helpers import record


def test_feedback_for_an_unknown_prediction_is_refused(log: PredictionLog) -> None:
    log.append([record(1)])
    with pytest.raises(RecordNotFound, match="prediction nope not in the prediction log"):
        log.record_feedback("nope", 1.0)
    with pytest.raises(RecordNotFound, match="2 predictions a, b not in"):
        log.record_feedback_batch({"p00001": 1.0, "a": 2.0, "b": 3.0})
    assert log.records.feedback() == []  # all or nothing


def test_a_second_label_replaces_the_first_and_says_so(log: PredictionLog) -> None:
    log.append([record(1)])  # still spooled: feedback often comes before compaction
    first = log.record_feedback("p00001", "cheap")
    second = log.record_feedback("p00001", np.int64(3))
    assert (first.replaced, second.replaced) == (False, True)
    (stored,) = log.records.feedback()
    assert (stored.prediction_id, stored.label) == ("p00001", 3)
    with pytest.raises(InvalidRequest, match="missing") as caught:
        log.record_feedback("p00001", float("nan"))
    assert caught.value.field == "label"


def test_labels_are_stored_as_plain_json_values_and_missing_ones_refused() -> None:
    assert checked_label("p", np.int64(3)) == 3
    assert checked_label("p", {"class": np.float32(0.5)}) == {"class": 0.5}
    assert checked_label("p", "cheap") == "cheap"
    for missing in (None, float("nan"), np.nan):
        with pytest.raises(InvalidRequest, match="label of prediction p is missing"):
            checked_label("p", missing)
    with pytest.raises(InvalidRequest, match="label of prediction p cannot be stored"):
        checked_label("p", object())


def test_unknown_predictions_are_named_a_few_at_a_time() -> None:
    assert "prediction a not in" in str(unknown_predictions(["a"]))
    many = str(unknown_predictions([f"p{n}" for n in range(7)]))
    assert "7 predictions p0, p1, p2, p3, p4 and 2 more not in the prediction log" in many


def test_labels_become_a_frame_with_their_times(log: PredictionLog) -> None:
    assert list(labels_frame([]).columns) == ["prediction_id", "label", "received_at"]
    log.append([record(1), record(2)])
    log.record_feedback_batch({"p00001": "a", "p00002": 2})
    frame = labels_frame(log.records.feedback())
    assert sorted(zip(frame["prediction_id"], frame["label"], strict=True)) == [
        ("p00001", "a"),
        ("p00002", 2),
    ]
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
