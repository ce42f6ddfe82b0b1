"""``PredictionLog.labelled_rows``: labelled predictions of a model as training rows."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard import DataError
from shipyard.prediction_log import PredictionLog
from tests.prediction_log.helpers import record


def test_only_labelled_primary_predictions_of_the_model_come_back(log: PredictionLog) -> None:
    log.append(
        [
            record(1),
            record(2),  # never labelled
            record(3, version=2, variant="candidate"),
            record(4),
            record(5, variant="shadow", shadow_of="p00004"),
            record(6, model="other"),
        ]
    )
    log.compact()  # half the log in segments, half spooled: both are read
    log.close()
    log.append([record(7, inputs={"x": 7, "city": "Boone", "extra": True})])
    labels = {"p00001": 10.0, "p00003": 30.0, "p00004": 40.0, "p00005": 50.0, "p00006": 60.0}
    log.record_feedback_batch(labels | {"p00007": 70.0})
    log.records.save_feedback({"p00003": 30.0}, source="agreed")  # as review labels are
    log.records.save_feedback({"p00004": 40.0}, source="adjudicated")

    rows = log.labelled_rows("ames")

    assert list(rows["prediction_id"]) == ["p00001", "p00003", "p00004", "p00007"]
    assert list(rows["label"]) == [10.0, 30.0, 40.0, 70.0]
    assert list(rows["source"]) == ["api", "agreed", "adjudicated", "api"]
    assert list(rows["version"]) == [1, 2, 1, 1]
    assert list(rows["x"]) == [1, 3, 4, 7]
    assert list(rows["city"]) == ["Ames", "Ames", "Ames", "Boone"]
    assert rows["extra"].isna().tolist() == [True, True, True, False]
    assert list(rows.columns)[-5:] == ["prediction_id", "label", "source", "received_at", "version"]
    assert str(rows["received_at"].dtype) == "datetime64[us, UTC]"


def test_a_relabelled_prediction_counts_once_with_its_latest_label(log: PredictionLog) -> None:
    log.append([record(1), record(2)])
    log.record_feedback("p00001", 1.0)
    log.compact()
    log.record_feedback("p00001", 2.0)
    log.record_feedback("p00002", 3.0)

    rows = log.labelled_rows("ames")

    assert list(zip(rows["prediction_id"], rows["label"], strict=True)) == [
        ("p00001", 2.0),
        ("p00002", 3.0),
    ]


def test_no_labels_make_an_empty_frame_with_the_columns(log: PredictionLog) -> None:
    log.append([record(1)])
    rows = log.labelled_rows("ames")
    assert len(rows) == 0
    assert list(rows.columns) == ["prediction_id", "label", "source", "received_at", "version"]
    assert log.labelled_rows("unknown").empty


def test_an_input_named_like_a_column_of_its_own_is_refused(log: PredictionLog) -> None:
    log.append([record(1, inputs={"label": "x"})])
    log.record_feedback("p00001", 1.0)
    with pytest.raises(DataError, match=r"input columns named \['label'\]"):
        log.labelled_rows("ames")


def test_many_predictions_are_read_once(log: PredictionLog) -> None:
    log.append(record(n) for n in range(1, 2001))
    log.record_feedback_batch({f"p{n:05d}": float(n) for n in range(1, 2001, 2)})
    rows = log.labelled_rows("ames")
    assert len(rows) == 1000
    pd.testing.assert_series_equal(
        rows["label"].astype(float), rows["x"].astype(float), check_names=False
    )
