"""Spool lines: encoding on the server's path, forgiving parsing on the reader's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from shipyard import InvalidRequest
from shipyard.prediction_log import COLUMN_NAMES, COLUMNS, prediction_lines
from shipyard.prediction_log.lines import encode, line_ids, parse_lines, rows_frame
from tests.prediction_log.helpers import T0, record


def test_a_line_has_the_keys_of_the_column_table_in_its_order() -> None:
    line = encode(record(1, probabilities={"a": 0.5}, variant="canary"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert line.startswith(b'{"id":"p00001",')
    assert list(orjson.loads(line)) == [column.line_key for column in COLUMNS]


def test_the_servers_lines_equal_those_of_records() -> None:
    records = [record(1), record(2, probabilities={"x": 1.0})]
    lines = prediction_lines(
        model="ames",
        version=1,
        ids=["p00001", "p00002"],
        rows=[r.inputs for r in records],
        values=[np.float64(1.0), 2.0],
        probabilities=None,
        latency_ms=0.5,
        timestamp=T0,
    )
    assert lines[0] == encode(record(1, timestamp=T0))
    assert orjson.loads(lines[1])["probabilities"] is None


def test_keys_that_are_not_text_are_written_as_text_and_other_values_refused() -> None:
    assert orjson.loads(encode(record(1, inputs={2024: "year"})))["inputs"] == {"2024": "year"}
    with pytest.raises(InvalidRequest, match="prediction p00001 cannot be logged") as caught:
        encode(record(1, inputs={"x": object()}))
    assert caught.value.field == "inputs"


def test_lines_read_back_with_defaults_for_optional_keys() -> None:
    data = encode(record(1)) + b'{"id":"old","ts":"2024-05-01T12:00:00Z","model":"m",'
    data += b'"version":"2","prediction":1,"inputs":{}}\n'
    first, second = parse_lines(data, "a.jsonl")
    assert (first["prediction_id"], first["version"]) == ("p00001", 1)
    assert first["inputs"] == {"x": 1, "city": "Ames"}
    assert (second["version"], second["variant"], second["latency_ms"]) == (2, "primary", 0.0)
    assert second["probabilities"] is None


def test_a_cut_off_last_line_is_ignored_and_damaged_lines_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = (
        b"not json\n"
        + b'{"id": "x", "ts": "now"}\n'  # keys missing
        + b'{"id": "'
        + b"i" * 129
        + b'", "ts": "t", "model": "m", "version": 1, '
        + b'"prediction": 1, "inputs": {}}\n'  # an id compaction could not store
        + encode(record(2))
        + encode(record(3))[:20]  # its writer died here
    )
    with caplog.at_level(logging.WARNING, logger="shipyard.prediction_log.lines"):
        rows = parse_lines(data, "dead.jsonl")
    assert [row["prediction_id"] for row in rows] == ["p00002"]
    skipped = [r.getMessage() for r in caplog.records]
    assert skipped == [
        f"skipping line {n} of spool file dead.jsonl: not a prediction" for n in (1, 2, 3)
    ]


def test_ids_are_read_off_lines_escaped_or_not() -> None:
    odd = 'odd "id" \\ é'
    data = encode(record(1)) + encode(record(2, prediction_id=odd)) + b"garbage\n"
    data += encode(record(3))[:-1]  # no newline yet: not complete
    assert line_ids(data) == {"p00001", odd}


def test_times_are_read_as_utc_and_a_line_without_a_readable_time_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    line = b'{"id":"%s","ts":"%s","model":"m","version":1,"prediction":1,"inputs":{}}\n'
    data = line % (b"zoned", b"2024-05-01T14:00:00+02:00") + line % (b"naive", b"2024-05-01T12:00")
    data += line % (b"garbage", b"2024-13-45T99:00Z") + encode(record(1))
    with caplog.at_level(logging.WARNING, logger="shipyard.prediction_log.lines"):
        rows = parse_lines(data, "a.jsonl")
    assert [(row["prediction_id"], row["timestamp"]) for row in rows] == [
        ("zoned", T0),
        ("naive", T0),
        ("p00001", datetime(2024, 5, 1, 12, 1, tzinfo=UTC)),
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping line 3 of spool file a.jsonl: not a prediction"
    ]
    frame = rows_frame(rows)
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert list(frame["timestamp"]) == [row["timestamp"] for row in rows]
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert rows_frame([]).empty
