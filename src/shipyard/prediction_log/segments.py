"""Parquet segments: compacted predictions of one model, sorted by time.

A segment has the columns of ``COLUMNS`` under ``SEGMENT_SCHEMA``; the JSON columns are
stored as text and decoded on reading.  Reading pushes the time window down to Parquet,
so a segment that only overlaps the window is read in part.  A segment is read as a
frame (``read_segment``) or as plain rows (``segment_rows``, which needs no pandas).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.prediction_log.columns import COLUMNS, frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SEGMENT_SCHEMA", "read_segment", "segment_rows", "write_segment"]

# A column's Arrow type follows from its dtype; text that may be null, and JSON, is text.
_ARROW_TYPES = {
    "str": pa.string(),
    "object": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "datetime64[us, UTC]": pa.timestamp("us", tz="UTC"),
}

SEGMENT_SCHEMA = pa.schema(
    [(column.name, _ARROW_TYPES[column.dtype]) for column in COLUMNS],
    metadata={"shipyard.schema": "prediction-log/2"},
)
"""The Arrow schema of a Parquet segment (rows sorted by time, zstd-compressed).

Segments of schema 1 have no ``shadow_of``; they read with it null."""


def write_segment(rows: list[dict[str, Any]], path: Path) -> None:
    """Write predictions to ``path`` as a segment, oldest first: ``rows`` as
    ``parse_lines(..., encoded=True)`` gives them (their JSON columns as text)."""
    rows = sorted(rows, key=itemgetter("timestamp"))
    arrays = []
    for column in COLUMNS:
        kind = SEGMENT_SCHEMA.field(column.name).type
        if column.name == "timestamp":
            # As microseconds: pyarrow converts aware datetimes fifty times slower.
            micros = pa.array([_micros(row["timestamp"]) for row in rows], pa.int64())
            arrays.append(micros.view(kind))
        else:
            arrays.append(pa.array([row[column.name] for row in rows], kind))
    table = pa.Table.from_arrays(arrays, schema=SEGMENT_SCHEMA)
    pq.write_table(table, path, compression="zstd")


def _segment_table(
    path: Path,
    since: datetime | None,
    until: datetime | None,
    ids: Sequence[str] | None,
    newest: int | None,
) -> pa.Table:
    filters: list[tuple[str, str, Any]] = []
    if ids is not None:
        filters.append(("prediction_id", "in", pa.array(list(ids), type=pa.string())))
    if since is not None:
        filters.append(("timestamp", ">=", since))
    if until is not None:
        filters.append(("timestamp", "<", until))
    table = pq.read_table(path, filters=filters or None, schema=SEGMENT_SCHEMA)
    if newest is not None and table.num_rows > newest:
        table = table.slice(table.num_rows - newest)  # a segment is written oldest first
    return table


def _decoded(texts: list[str | None]) -> list[Any]:
    return [None if text is None else orjson.loads(text) for text in texts]


def read_segment(
    path: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Sequence[str] | None = None,
    newest: int | None = None,
) -> pd.DataFrame:
    """The predictions of the segment in ``path`` with ``since <= timestamp < until``
    (given ``ids``, only those; given ``newest``, only the newest so many of them):
    only their rows are decoded."""
    table = _segment_table(path, since, until, ids, newest)
    columns: dict[str, Any] = {}
    for column in COLUMNS:
        if column.json:
            columns[column.name] = _decoded(table[column.name].to_pylist())
        elif column.dtype == "object":  # nullable text: None, as spooled rows have it
            columns[column.name] = table[column.name].to_pylist()
        else:
            columns[column.name] = table[column.name].to_pandas()
    return frame(columns)


def segment_rows(
    path: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    newest: int | None = None,
) -> list[dict[str, Any]]:
    """``read_segment``'s predictions as dicts of plain Python values, oldest first.

    Without pandas, which pyarrow imports for its filters and for timestamps as Python
    values: the file is read whole, the window found by bisecting its times (a segment
    is sorted by time) and the times made from their microseconds.
    """
    with pq.ParquetFile(path) as file:
        table = file.read()
    micros = table.column("timestamp").combine_chunks().view(pa.int64())
    start = 0 if since is None else bisect_left(micros, _micros(since), key=_as_py)
    stop = len(micros) if until is None else bisect_left(micros, _micros(until), key=_as_py)
    if newest is not None:
        start = max(start, stop - newest)
    part = table.slice(start, max(0, stop - start))
    columns: dict[str, list[Any]] = {}
    for column in COLUMNS:
        if column.name == "timestamp":
            values = micros.slice(start, part.num_rows).to_pylist()
            columns[column.name] = [_EPOCH + timedelta(microseconds=value) for value in values]
        elif column.name not in part.column_names:  # shadow_of, in a schema 1 segment
            columns[column.name] = [None] * part.num_rows
        elif column.json:
            columns[column.name] = _decoded(part[column.name].to_pylist())
        else:
            columns[column.name] = part[column.name].to_pylist()
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _as_py(scalar: pa.Scalar) -> Any:
    return scalar.as_py()
