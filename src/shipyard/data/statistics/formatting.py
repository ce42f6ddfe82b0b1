"""The stored form of statistics: validated records with base64 sketches, and the
summary for people that is written beside them (and never read back).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.data.statistics.column_types import ColumnType
from shipyard.errors import DataError

__all__ = [
    "STATISTICS_FORMAT",
    "ColumnRecord",
    "NumericRecord",
    "StatisticsRecord",
    "decode_sketch",
    "encode_sketch",
    "validate_record",
]

STATISTICS_FORMAT = "shipyard.statistics/1"


def encode_sketch(payload: bytes) -> str:
    """A serialised sketch as base64 text."""
    return base64.b64encode(payload).decode("ascii")


def decode_sketch(text: str, sketch_class: Any, field: str) -> Any:
    """The sketch ``encode_sketch`` wrote; ``DataError`` naming ``field`` when it is bad."""
    try:
        return sketch_class.deserialize(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, IndexError, RuntimeError) as exc:
        raise DataError(f"{field} is not a valid serialised sketch: {exc}") from exc


class NumericRecord(BaseModel):
    """The stored form of a ``NumericSummary``."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1)
    mean: float
    m2: float
    min: float
    max: float
    sketch: str


class ColumnRecord(BaseModel):
    """The stored form of a ``ColumnStatistics``."""

    model_config = ConfigDict(extra="ignore")  # "summary" is derived and not read back

    name: str
    type: ColumnType
    count: int
    missing: int
    numeric: NumericRecord | None
    frequencies: str | None
    distinct: str


class StatisticsRecord(BaseModel):
    """The stored form of a ``DatasetStatistics``."""

    model_config = ConfigDict(extra="forbid")

    format: str
    num_rows: int
    columns: list[ColumnRecord]


_Record = TypeVar("_Record", bound=BaseModel)


def validate_record(model: type[_Record], data: Mapping[str, Any], what: str) -> _Record:
    """``data`` read as ``model``; ``DataError`` naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        raise DataError(f"{what}: field {field!r}: {problem['msg']}") from exc
