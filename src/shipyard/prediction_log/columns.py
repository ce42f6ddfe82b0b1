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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "MAX_ID_LENGTH",
    "MAX_MODEL_LENGTH",
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
    dtype: str
    """Its pandas dtype in frames ``read`` returns; its Arrow type in segments follows
    from it (``segments.SEGMENT_SCHEMA``)."""
    description: str
    json: bool = False
    """Stored as JSON text in segments, decoded on reading."""
    required: bool = False
    """A spool line without it is not a prediction."""


COLUMNS: tuple[Column, ...] = (
    Column(
        name="prediction_id",
        line_key="id",
        dtype="str",
        required=True,
        description="caller's id (32 random hex digits by default)",
    ),
    Column(
        name="timestamp",
        line_key="ts",
        dtype="datetime64[us, UTC]",
        required=True,
        description="when the prediction was made",
    ),
    Column(
        name="model",
        line_key="model",
        dtype="str",
        required=True,
        description="the model's name",
    ),
    Column(
        name="version",
        line_key="version",
        dtype="int64",
        required=True,
        description="the model's version",
    ),
    Column(
        name="variant",
        line_key="variant",
        dtype="str",
        description='the arm that answered: "primary", "candidate" or "shadow"',
    ),
    Column(
        name="shadow_of",
        line_key="shadow_of",
        dtype="object",
        description="a shadow answer's returned answer (its prediction id), else null",
    ),
    Column(
        name="prediction",
        line_key="prediction",
        dtype="object",
        json=True,
        required=True,
        description="the value the model returned",
    ),
    Column(
        name="probabilities",
        line_key="probabilities",
        dtype="object",
        json=True,
        description="class -> probability, or null",
    ),
    Column(
        name="latency_ms",
        line_key="latency_ms",
        dtype="float64",
        description="milliseconds from the request to the answer",
    ),
    Column(
        name="inputs",
        line_key="inputs",
        dtype="object",
        json=True,
        required=True,
        description="column -> value",
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)


def frame(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A frame of the log's columns, in their order and dtypes, from one sequence each."""
    # Imported here: the command line reads the log as plain rows, without pandas.
    import pandas as pd

    return pd.DataFrame(
        {column.name: pd.Series(columns[column.name], dtype=column.dtype) for column in COLUMNS}
    )


def empty_frame() -> pd.DataFrame:
    """A frame with the log's columns and no rows."""
    return frame({name: [] for name in COLUMN_NAMES})
