"""The one table of the log's columns and what is derived from it."""

from __future__ import annotations

import pyarrow as pa

from shipyard.prediction_log import COLUMN_NAMES, COLUMNS
from shipyard.prediction_log.columns import empty_frame, frame
from shipyard.prediction_log.segments import SEGMENT_SCHEMA


def test_names_and_line_keys_are_unique_and_the_id_comes_first() -> None:
    assert len(set(COLUMN_NAMES)) == len(COLUMNS) == 10
    assert len({column.line_key for column in COLUMNS}) == len(COLUMNS)
    assert (COLUMNS[0].name, COLUMNS[0].line_key) == ("prediction_id", "id")


def test_the_segment_schema_follows_the_table() -> None:
    assert SEGMENT_SCHEMA.names == list(COLUMN_NAMES)
    assert SEGMENT_SCHEMA.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert SEGMENT_SCHEMA.field("version").type == pa.int64()
    json_columns = [column.name for column in COLUMNS if column.json]
    assert json_columns == ["prediction", "probabilities", "inputs"]
    assert all(SEGMENT_SCHEMA.field(name).type == pa.string() for name in json_columns)


def test_frames_have_the_columns_in_order_with_their_dtypes() -> None:
    empty = empty_frame()
    assert list(empty.columns) == list(COLUMN_NAMES)
    assert empty.empty
    assert str(empty["timestamp"].dtype) == "datetime64[us, UTC]"
    assert str(empty["version"].dtype) == "int64"
    assert str(empty["latency_ms"].dtype) == "float64"

    one = frame(
        {
            "prediction_id": ["a"],
            "timestamp": ["2024-05-01T12:00:00Z"],
            "model": ["ames"],
            "version": [3],
            "variant": ["primary"],
            "shadow_of": [None],
            "prediction": [{"any": "value"}],
            "probabilities": [None],
            "latency_ms": [1],
            "inputs": [{"x": 1}],
        }
    )
    assert list(one.dtypes.astype(str)) == list(empty.dtypes.astype(str))
    assert one.loc[0, "prediction"] == {"any": "value"}
