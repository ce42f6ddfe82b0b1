"""The prediction log's columns: the one table every other list of them derives from.

A prediction has ten fields.  Each appears under three names or types: its key in a spool
line (short, since a server writes one line per prediction), its Arrow type in a Parquet
segment and its dtype in the frames ``PredictionLog.read`` returns.  They are written down
once, in ``COLUMNS``; the segment schema, empty frames and the CLI's output order are made
from it.

``prediction``, ``probabilities`` and ``inputs`` are JSON text in a segment: a class label
may be a string, an integer or a boolean, and every model has inputs of its own; JSON keeps
each exactly.  Reading decodes them back to Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "MAX_ID_LENGTH",
    "MAX_MODEL_LENGTH",
    "SEGMENT_SCHEMA",
    "Column",
    "empty_frame",
    "frame",
]

MAX_ID_LENGTH = 128
MAX_MODEL_LENGTH = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One field of a logged prediction, under each name and type it has."""

    name: str
    """Its name in frames and segments, and in the CLI's CSV and JSON output."""
    line_key: str
    """Its key in a spool line."""
    arrow_type: pa.DataType
    dtype: str
    """Its pandas dtype in frames ``read`` returns."""
    description: str
    json: bool = False
    """Stored as JSON text in segments, decoded on reading."""
    required: bool = False
    """A spool line without it is not a prediction."""


COLUMNS: tuple[Column, ...] = (
    Column(
        name="prediction_id",
        line_key="id",
        arrow_type=pa.string(),
        dtype="str",
        required=True,
        description="caller's id (32 random hex digits by default)",
    ),
    Column(
        name="timestamp",
        line_key="ts",
        arrow_type=pa.timestamp("us", tz="UTC"),
        dtype="datetime64[us, UTC]",
        required=True,
        description="when the prediction was made",
    ),
    Column(
        name="model",
        line_key="model",
        arrow_type=pa.string(),
        dtype="str",
        required=True,
        description="the model's name",
    ),
    Column(
        name="version",
        line_key="version",
        arrow_type=pa.int64(),
        dtype="int64",
        required=True,
        description="the model's version",
    ),
    Column(
        name="variant",
        line_key="variant",
        arrow_type=pa.string(),
        dtype="str",
        description='the arm that answered: "primary", "candidate" or "shadow"',
    ),
    Column(
        name="shadow_of",
        line_key="shadow_of",
        arrow_type=pa.string(),
        dtype="object",
        description="a shadow answer's returned answer (its prediction id), else null",
    ),
    Column(
        name="prediction",
        line_key="prediction",
        arrow_type=pa.string(),
        dtype="object",
        json=True,
        required=True,
        description="the value the model returned",
    ),
    Column(
        name="probabilities",
        line_key="probabilities",
        arrow_type=pa.string(),
        dtype="object",
        json=True,
        description="class -> probability, or null",
    ),
    Column(
        name="latency_ms",
        line_key="latency_ms",
        arrow_type=pa.float64(),
        dtype="float64",
        description="milliseconds from the request to the answer",
    ),
    Column(
        name="inputs",
        line_key="inputs",
        arrow_type=pa.string(),
        dtype="object",
        json=True,
        required=True,
        description="column -> value",
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)

SEGMENT_SCHEMA = pa.schema(
    [(column.name, column.arrow_type) for column in COLUMNS],
    metadata={"shipyard.schema": "prediction-log/2"},
)
"""The Arrow schema of a Parquet segment (rows sorted by time, zstd-compressed).

Segments of schema 1 have no ``shadow_of``; they read with it null."""


def frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A frame of the log's columns, in their order and dtypes, from one sequence each."""
    return pd.DataFrame(
        {column.name: pd.Series(columns[column.name], dtype=column.dtype) for column in COLUMNS}
    )


def empty_frame() -> pd.DataFrame:
    """A frame with the log's columns and no rows."""
    return frame({name: [] for name in COLUMN_NAMES})
