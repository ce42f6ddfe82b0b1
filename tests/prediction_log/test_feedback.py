"""Feedback: one label per logged prediction, checked before anything is stored."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard import InvalidRequest, RecordNotFound
from shipyard.prediction_log import PredictionLog
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
