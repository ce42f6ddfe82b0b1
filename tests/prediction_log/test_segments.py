"""Parquet segments: written sorted by time, read back whole, by time window, by id or
only the newest rows, as a frame or as plain rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from shipyard.prediction_log.lines import encode, parse_lines, rows_frame
from shipyard.prediction_log.segments import (
    SEGMENT_SCHEMA,
    read_segment,
    segment_rows,
    write_segment,
)
from tests.prediction_log.helpers import T0, record


def spooled(*numbers: int, encoded: bool = True) -> list[dict[str, Any]]:
    """Predictions ``numbers`` as compaction reads them from the spool (``encoded``: the
    JSON columns as text), with no probabilities for number 1."""
    data = b"".join(
        encode(
            record(
                n,
                prediction=f"class {n}",
                probabilities=None if n == 1 else {"a": 0.25 * (n % 4)},
            )
        )
        for n in numbers
    )
    return parse_lines(data, "test", encoded=encoded)


def test_a_segment_holds_the_schema_sorted_by_time_and_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "segment.parquet"
    write_segment(spooled(3, 1, 2), path)
    frame = rows_frame(spooled(3, 1, 2, encoded=False))

    stored = pq.read_table(path)
    assert stored.schema.equals(SEGMENT_SCHEMA, check_metadata=True)
    assert stored["prediction_id"].to_pylist() == ["p00001", "p00002", "p00003"]
    assert stored["inputs"][0].as_py() == '{"x":1,"city":"Ames"}'  # JSON text
    assert stored["probabilities"][0].as_py() is None

    back = read_segment(path)
    expected = frame.sort_values("timestamp").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)
    rows = segment_rows(path)
    assert rows == expected.to_dict("records")
    assert type(rows[0]["timestamp"]) is datetime and type(rows[0]["version"]) is int


def test_reading_a_window_keeps_since_and_drops_until(tmp_path: Path) -> None:
    path = tmp_path / "segment.parquet"
    write_segment(spooled(*range(10)), path)
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    assert list(read_segment(path, since=since, until=until)["prediction_id"]) == [
        "p00003",
        "p00004",
        "p00005",
    ]
    assert len(read_segment(path, since=since)) == 7
    assert len(read_segment(path, until=until)) == 6
    rows = segment_rows(path, since=since, until=until)
    assert [row["prediction_id"] for row in rows] == ["p00003", "p00004", "p00005"]
    assert len(segment_rows(path, since=since)) == 7
    assert len(segment_rows(path, until=until)) == 6
    assert segment_rows(path, since=until, until=since) == []


def test_reading_by_id_or_only_the_newest_rows(tmp_path: Path) -> None:
    path = tmp_path / "segment.parquet"
    write_segment(spooled(*range(9, -1, -1)), path)
    until = T0 + timedelta(minutes=6)

    assert list(read_segment(path, newest=3)["prediction_id"]) == ["p00007", "p00008", "p00009"]
    assert list(read_segment(path, until=until, newest=2)["prediction_id"]) == [
        "p00004",
        "p00005",
    ]
    assert len(read_segment(path, newest=50)) == 10
    newest = segment_rows(path, until=until, newest=2)
    assert [row["prediction_id"] for row in newest] == ["p00004", "p00005"]
    assert len(segment_rows(path, newest=50)) == 10
    by_id = read_segment(path, ids=["p00006", "p00002", "nope"])
    assert list(by_id["prediction_id"]) == ["p00002", "p00006"]
    assert by_id.loc[1, "prediction"] == "class 6"
    assert read_segment(path, ids=["nope"]).empty


def test_a_segment_of_the_first_schema_reads_with_no_shadow_links(tmp_path: Path) -> None:
    path = tmp_path / "old.parquet"
    rows = spooled(2, 1)
    write_segment(rows, path)
    first = pq.read_table(path).drop_columns(["shadow_of"])  # as schema 1 wrote them
    pq.write_table(first.replace_schema_metadata({"shipyard.schema": "prediction-log/1"}), path)

    back = read_segment(path)
    assert list(back["shadow_of"]) == [None, None]
    assert list(back["prediction_id"]) == sorted(row["prediction_id"] for row in rows)
    assert segment_rows(path) == back.to_dict("records")
