"""PredictionLog, the front: what is written reads back, filtered, from spool and segments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard import InvalidRequest, Project
from shipyard.prediction_log import PredictionLog, inputs_frame, spool_folder
from tests.prediction_log.helpers import T0, record, spool_files


def test_spooled_predictions_read_back_whole(log: PredictionLog, project: Project) -> None:
    classified = record(
        2,
        model="churn",
        prediction="stays",
        probabilities={"stays": 0.8, "leaves": 0.2},
        variant="shadow",
        shadow_of="p00001",
    )
    log.append([record(1), classified])
    assert log.spool == spool_folder(project.root) == project.root / ".shipyard" / "spool"
    assert len(spool_files(log)) == 1

    frame = log.read()
    assert list(frame["prediction_id"]) == ["p00002", "p00001"]  # newest first
    newest = frame.iloc[0]
    assert newest["timestamp"] == T0 + timedelta(minutes=2)
    assert (newest["model"], newest["version"], newest["variant"]) == ("churn", 1, "shadow")
    assert (newest["shadow_of"], frame.iloc[1]["shadow_of"]) == ("p00001", None)
    assert newest["prediction"] == "stays"
    assert newest["probabilities"] == {"stays": 0.8, "leaves": 0.2}
    assert newest["inputs"] == {"x": 2, "city": "Ames"}
    assert frame.iloc[1]["prediction"] == 1.0
    assert frame.iloc[1]["probabilities"] is None
    assert frame.iloc[1]["variant"] == "primary"


def test_inputs_with_keys_that_are_not_text_are_logged_with_text_keys(
    log: PredictionLog,
) -> None:
    log.append([record(1, inputs={2024: "year", "x": 1.5})])  # a frame's integer column name
    assert log.read().iloc[0]["inputs"] == {"2024": "year", "x": 1.5}


def test_values_of_common_types_are_logged_as_json(log: PredictionLog) -> None:
    inputs = {
        "float": np.float32(1.5),
        "int": np.int64(7),
        "missing": float("nan"),
        "day": date(2024, 5, 1),
        "when": pd.Timestamp("2024-05-01T10:00", tz="UTC"),
        "price": Decimal("2.5"),
        "array": np.array([1, 2]),
    }
    log.append([record(1, inputs=inputs, prediction=np.float64(3.25), version=np.int64(2))])
    log.rotate()
    log.compact()
    row = log.read().iloc[0]
    assert row["inputs"] == {
        "float": 1.5,
        "int": 7,
        "missing": None,
        "day": "2024-05-01",
        "when": "2024-05-01T10:00:00+00:00",
        "price": 2.5,
        "array": [1, 2],
    }
    assert (row["prediction"], row["version"]) == (3.25, 2)


def test_records_that_cannot_be_stored_are_rejected_before_anything_is_written(
    log: PredictionLog,
) -> None:
    with pytest.raises(InvalidRequest, match="prediction_id must be a string") as caught:
        record(1, prediction_id="x" * 129)
    assert caught.value.field == "prediction_id"
    with pytest.raises(InvalidRequest, match="version must be an integer"):
        record(1, version="3")
    with pytest.raises(InvalidRequest, match="cannot be logged") as caught:
        log.append([record(1), record(2, inputs={"x": object()})])
    assert caught.value.field == "inputs"
    assert log.read().empty
    assert log.find(["p00001"]) == set()


def test_reading_filters_by_model_and_time_and_keeps_the_newest(log: PredictionLog) -> None:
    # The newest predictions are in the first segment compacted, the oldest still spooled.
    for batch in (range(20, 30), range(10, 20)):
        log.append([record(n, model="ames" if n % 2 else "churn") for n in batch])
        log.rotate()
        log.compact()
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(10)])

    newest = log.read(limit=3)
    assert list(newest["prediction_id"]) == ["p00029", "p00028", "p00027"]
    ames = log.read(model="ames", since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=25))
    assert list(ames["prediction_id"]) == [f"p{n:05d}" for n in range(23, 4, -2)]
    assert len(log.read()) == 30
    assert log.read(model="nobody").empty
    with pytest.raises(ValueError, match="naive datetime"):
        log.read(since=datetime(2024, 5, 1))
    chosen = {"p00003", "p00012", "p00025", "p00026", "absent"}
    by_id = log.read(ids=chosen)  # spooled, and in both segments
    assert list(by_id["prediction_id"]) == ["p00026", "p00025", "p00012", "p00003"]
    assert list(log.read(model="ames", ids=chosen)["prediction_id"]) == ["p00025", "p00003"]
    assert log.read(ids=set()).empty


def test_the_newest_as_plain_rows_are_the_frames_rows(log: PredictionLog, project: Project) -> None:
    for batch in (range(20, 30), range(10, 20)):
        log.append([record(n, model="ames" if n % 2 else "churn") for n in batch])
        log.rotate()
        log.compact()
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(10)])
    log.append([record(25, model="ames")])  # also compacted: listed once

    queries: list[tuple[str | None, datetime | None, int | None]] = [
        (None, None, 3),
        ("ames", T0 + timedelta(minutes=5), 4),
        ("churn", None, None),
        (None, T0 + timedelta(minutes=18), 100),
        (None, None, 0),
    ]
    for model, since, limit in queries:
        rows = project.newest_predictions(model=model, since=since, limit=limit)
        whole = log.read(model=model, since=since)  # without a limit: read as a frame
        expected = whole.head(len(whole) if limit is None else limit)
        assert rows == expected.to_dict("records"), (model, since, limit)
        assert rows == log.newest(model=model, since=since, limit=limit)
    with pytest.raises(ValueError, match="naive datetime"):
        project.newest_predictions(since=datetime(2024, 5, 1))
    newest = project.newest_predictions(limit=1)[0]
    assert newest["prediction_id"] == "p00029"
    assert newest["timestamp"] == T0 + timedelta(minutes=29)
    assert (type(newest["version"]), type(newest["latency_ms"])) == (int, float)


def test_segments_outside_the_window_are_not_opened(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    for batch in (range(0, 10), range(10, 20), range(20, 30)):
        log.append([record(n) for n in batch])
        log.rotate()
        log.compact()
    opened: list[str] = []
    materialize = log.artifacts.materialize

    def counting(digest: str, kind: Any, **options: Any) -> Path:
        opened.append(digest)
        return materialize(digest, kind, **options)

    monkeypatch.setattr(log.artifacts, "materialize", counting)
    assert len(log.read(since=T0 + timedelta(minutes=25))) == 5
    assert len(opened) == 1
    opened.clear()
    assert list(log.read(limit=4)["prediction_id"]) == ["p00029", "p00028", "p00027", "p00026"]
    assert len(opened) == 1


def test_a_prediction_is_got_by_id_from_its_segment_alone(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two segments over the same hours (interleaved times): a read by time opens both.
    for batch in (range(0, 40, 2), range(1, 40, 2)):
        log.append([record(n) for n in batch])
        log.rotate()
        log.compact()
    log.append([record(50)])
    opened: list[str] = []
    materialize = log.artifacts.materialize

    def counting(digest: str, kind: Any, **options: Any) -> Path:
        opened.append(digest)
        return materialize(digest, kind, **options)

    monkeypatch.setattr(log.artifacts, "materialize", counting)
    found = log.get("p00017")
    assert len(found) == 1
    assert found.loc[0, "inputs"] == {"x": 17, "city": "Ames"}
    assert found.loc[0, "timestamp"] == T0 + timedelta(minutes=17)
    assert len(opened) == 1
    spooled = log.get("p00050")
    assert list(spooled["prediction_id"]) == ["p00050"]
    assert spooled.loc[0, "prediction"] == 50.0
    assert log.get("p00099").empty


def test_inputs_frame_expands_inputs_into_columns(log: PredictionLog) -> None:
    log.append([record(1), record(2, inputs={"x": 5, "area": 80.5})])
    frame = log.read()
    inputs = inputs_frame(frame)
    assert list(inputs.index) == list(frame.index)
    assert inputs.loc[0, "area"] == 80.5
    assert inputs.loc[1, "city"] == "Ames"
    assert inputs["area"].isna().tolist() == [False, True]
    assert list(inputs["x"]) == [5, 1]


def test_find_knows_spooled_and_compacted_ids(log: PredictionLog) -> None:
    log.append([record(1), record(2, prediction_id='odd "id" \\ é')])
    log.rotate()
    log.compact()
    log.append([record(3)])
    wanted = ["p00001", 'odd "id" \\ é', "p00003", "unknown"]
    assert log.find(wanted) == {"p00001", 'odd "id" \\ é', "p00003"}
    log.append([record(4)])  # read since the last find, from where that one stopped
    assert log.find(["p00004"]) == {"p00004"}


def test_predictions_are_joined_with_their_labels(log: PredictionLog) -> None:
    log.append([record(n) for n in range(4)])
    log.rotate()
    log.compact()
    log.append([record(4)])
    log.record_feedback_batch({"p00001": 10.0, "p00004": 40.0})
    joined = log.predictions_with_feedback(model="ames")
    assert list(joined["prediction_id"]) == ["p00004", "p00001"]
    assert list(joined["label"]) == [40.0, 10.0]
    assert list(joined["prediction"]) == [4.0, 1.0]
    assert joined["received_at"].notna().all()
    assert log.predictions_with_feedback(model="churn").empty


def test_since_may_be_an_age_or_a_time_as_text(log: PredictionLog) -> None:
    now = datetime.now(UTC)
    log.append(
        [
            record(1, timestamp=now - timedelta(hours=3)),
            record(2, timestamp=now - timedelta(minutes=30)),
        ]
    )
    assert list(log.read(since="2h")["prediction_id"]) == ["p00002"]
    assert len(log.read(since=(now - timedelta(hours=4)).isoformat())) == 2
    log.record_feedback("p00001", 1.0)
    assert log.predictions_with_feedback(since="2h").empty
    assert len(log.predictions_with_feedback(since="4h")) == 1
    with pytest.raises(InvalidRequest, match="'yesterday' is neither") as caught:
        log.read(since="yesterday")
    assert caught.value.field == "since"
