"""Parquet segments: compacted predictions of one model, sorted by time.

A segment has the columns of ``COLUMNS`` under ``SEGMENT_SCHEMA``; the JSON columns are
stored as text and decoded on reading.  Reading pushes the time window down to Parquet,
so a segment that only overlaps the window is read in part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.prediction_log.columns import COLUMNS, SEGMENT_SCHEMA, frame
from shipyard.prediction_log.lines import json_text

__all__ = ["read_segment", "write_segment"]


def write_segment(predictions: pd.DataFrame, path: Path) -> None:
    """Write a frame of the log's columns to ``path`` as a segment, oldest first."""
    predictions = predictions.sort_values("timestamp", kind="stable")
    arrays = []
    for column in COLUMNS:
        values = predictions[column.name]
        if column.json:
            texts = [None if value is None else json_text(value) for value in values]
            arrays.append(pa.array(texts, column.arrow_type))
        else:
            arrays.append(pa.array(values, column.arrow_type))
    table = pa.Table.from_arrays(arrays, schema=SEGMENT_SCHEMA)
    pq.write_table(table, path, compression="zstd")


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
    columns: dict[str, Any] = {}
    for column in COLUMNS:
        if column.json:
            texts = table[column.name].to_pylist()
            columns[column.name] = [None if text is None else orjson.loads(text) for text in texts]
        elif column.dtype == "object":  # nullable text: None, as spooled rows have it
            columns[column.name] = table[column.name].to_pylist()
        else:
            columns[column.name] = table[column.name].to_pandas()
    return frame(columns)
