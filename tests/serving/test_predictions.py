"""The prediction log on real files and both databases: spool, compaction, reading, feedback."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard import InvalidRequest, Project, RecordNotFound
from shipyard.serving import PredictionLog, PredictionRecord, inputs_frame, spool_folder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def record(n: int, *, model: str = "ames", **fields: Any) -> PredictionRecord:
    values: dict[str, Any] = {
        "prediction_id": f"p{n:05d}",
        "model": model,
        "version": 1,
        "inputs": {"x": n, "city": "Ames"},
        "prediction": float(n),
        "latency_ms": 0.5,
        "timestamp": T0 + timedelta(minutes=n),
    }
    values.update(fields)
    return PredictionRecord(**values)


def spool_files(log: PredictionLog) -> list[Path]:
    return sorted(log.spool.glob("*.jsonl"))


def segment_rows(log: PredictionLog) -> int:
    return sum(segment.rows for segment in log.records.segments())


@pytest.fixture
def log(project: Project) -> Iterator[PredictionLog]:
    log = PredictionLog.for_project(project, rotate_records=1000, rotate_seconds=3600)
    yield log
    log.close()


# -- writing and reading ---------------------------------------------------------------


def test_spooled_predictions_read_back_whole(log: PredictionLog, project: Project) -> None:
    classified = record(
        2,
        model="churn",
        prediction="stays",
        probabilities={"stays": 0.8, "leaves": 0.2},
        variant="canary",
    )
    log.append([record(1), classified])
    assert log.spool == spool_folder(project) == project.root / ".shipyard" / "spool"
    assert len(spool_files(log)) == 1

    frame = log.read()
    assert list(frame["prediction_id"]) == ["p00002", "p00001"]  # newest first
    newest = frame.iloc[0]
    assert newest["timestamp"] == T0 + timedelta(minutes=2)
    assert (newest["model"], newest["version"], newest["variant"]) == ("churn", 1, "canary")
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


def test_compaction_moves_closed_spool_files_into_parquet_segments(log: PredictionLog) -> None:
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(10)])
    before = log.read()

    assert log.compact().files == 0  # the writer still holds its file
    assert len(spool_files(log)) == 1

    assert log.rotate()
    result = log.compact()
    assert (result.files, result.predictions) == (1, 10)
    assert sorted(segment.model for segment in result.segments) == ["ames", "churn"]
    assert spool_files(log) == []
    pd.testing.assert_frame_equal(log.read(), before)

    churn = log.records.segments(model="churn")[0]
    assert (churn.rows, churn.min_time, churn.max_time) == (
        5,
        T0,
        T0 + timedelta(minutes=8),
    )


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


def test_inputs_frame_expands_inputs_into_columns(log: PredictionLog) -> None:
    log.append([record(1), record(2, inputs={"x": 5, "area": 80.5})])
    frame = log.read()
    inputs = inputs_frame(frame)
    assert list(inputs.index) == list(frame.index)
    assert inputs.loc[0, "area"] == 80.5
    assert inputs.loc[1, "city"] == "Ames"
    assert inputs["area"].isna().tolist() == [False, True]
    assert list(inputs["x"]) == [5, 1]


# -- crashes -----------------------------------------------------------------------------


def test_a_line_cut_off_mid_write_is_skipped_and_the_rest_kept(log: PredictionLog) -> None:
    log.append([record(n) for n in range(5)])
    (path,) = spool_files(log)
    log.rotate()
    with path.open("ab") as spool:
        spool.write(b'{"id":"p99999","ts":"2024-05-01T12:')  # the writer died here

    assert list(log.read()["prediction_id"]) == [f"p{n:05d}" for n in range(4, -1, -1)]
    assert log.find(["p00004", "p99999"]) == {"p00004"}
    assert log.compact().predictions == 5
    assert spool_files(log) == []
    assert len(log.read()) == 5


def test_a_damaged_line_does_not_stop_compaction(log: PredictionLog) -> None:
    log.append([record(1)])
    (path,) = spool_files(log)
    log.rotate()
    with path.open("ab") as spool:
        spool.write(b"not a prediction\n" + b'{"id": "p2", "ts": "garbage"}\n')
    log.append([record(3)])
    log.rotate()
    assert log.compact().predictions == 2
    assert sorted(log.read()["prediction_id"]) == ["p00001", "p00003"]


@pytest.mark.parametrize("crash", ["before registering", "before deleting the spool file"])
def test_compaction_interrupted_by_a_crash_neither_loses_nor_duplicates(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(50)])
    log.rotate()

    class Crash(Exception):
        pass

    def crash_now(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash

    with monkeypatch.context() as patch:
        if crash == "before registering":
            patch.setattr(log.records, "register_segments", crash_now)
        else:
            patch.setattr(Path, "unlink", crash_now)
        with pytest.raises(Crash):
            log.compact()
    assert len(spool_files(log)) == 1
    assert len(log.read()) == 50  # a reader meanwhile sees each prediction once

    log.compact()
    assert spool_files(log) == []
    assert segment_rows(log) == 50
    assert len(log.records.segments()) == 2
    frame = log.read()
    assert len(frame) == 50 and frame["prediction_id"].is_unique


CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from shipyard import Project
    from shipyard.serving import PredictionLog, PredictionRecord

    root, prefix, batches, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    log = PredictionLog.for_project(Project.open(root), rotate_records=37)

    def stream():
        for n in range(batches):
            records = [
                PredictionRecord(
                    prediction_id=f"{prefix}-{n}-{k}", model="m", version=1,
                    inputs={"n": n, "k": k}, prediction=float(n), latency_ms=0.1,
                )
                for k in range(3)
            ]
            log.append(records)
            # Printed only once append returned: as a server answers only then.
            print("\\n".join(r.prediction_id for r in records), flush=True)

    if mode == "kill":
        threading.Thread(target=stream, daemon=True).start()
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        stream()
    """
)


def child(project: Project, prefix: str, batches: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project.root), prefix, str(batches), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def printed_ids(output: str) -> list[str]:
    return output.split("\n")[:-1]  # a last line without a newline was cut off


def test_every_answered_prediction_survives_sigkill(project: Project, log: PredictionLog) -> None:
    process = child(project, "killed", 10**7, "kill")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    answered = printed_ids(output)
    assert len(answered) > 30

    assert log.find(answered) == set(answered)  # readable before compaction, too
    result = log.compact()  # the dead process's files, rotated or not, are unlocked
    assert result.files >= 2
    assert spool_files(log) == []
    stored = set(log.read()["prediction_id"])
    assert set(answered) <= stored
    assert log.find(answered) == set(answered)


def test_processes_appending_at_once_each_keep_every_record(
    project: Project, log: PredictionLog
) -> None:
    writers = [child(project, prefix, 400, "run") for prefix in ("a", "b")]
    while any(writer.poll() is None for writer in writers):
        log.compact()  # compaction beside live writers takes only closed files
        time.sleep(0.05)
    answered = [
        identifier
        for writer in writers
        for identifier in printed_ids(writer.communicate(timeout=60)[0])
    ]
    assert all(writer.returncode == 0 for writer in writers)
    assert len(answered) == 2 * 400 * 3

    log.compact()
    assert spool_files(log) == []
    frame = log.read()
    assert sorted(frame["prediction_id"]) == sorted(answered)
    assert segment_rows(log) == len(answered)


def test_files_of_live_writers_in_other_processes_are_left_alone(
    project: Project, log: PredictionLog
) -> None:
    other = PredictionLog.for_project(project)
    other.append([record(1)])
    assert log.compact().files == 0
    assert list(log.read()["prediction_id"]) == ["p00001"]
    other.close()
    log.compact()
    assert spool_files(log) == []
    assert segment_rows(log) == 1


# -- lookup and feedback -------------------------------------------------------------------


def test_find_knows_spooled_and_compacted_ids(log: PredictionLog) -> None:
    log.append([record(1), record(2, prediction_id='odd "id" \\ é')])
    log.rotate()
    log.compact()
    log.append([record(3)])
    wanted = ["p00001", 'odd "id" \\ é', "p00003", "unknown"]
    assert log.find(wanted) == {"p00001", 'odd "id" \\ é', "p00003"}
    log.append([record(4)])  # read since the last find, from where that one stopped
    assert log.find(["p00004"]) == {"p00004"}


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
