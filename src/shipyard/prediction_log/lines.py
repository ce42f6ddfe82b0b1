"""Spool lines: a prediction as one line of JSON, and the lines read back.

A server writes one line per prediction, so encoding is on its hot path: a line is built
as a literal dict with the short keys of ``COLUMNS`` and handed to orjson, with no
per-row checks (``prediction_lines``).  Reading is forgiving instead: only the last line
of a spool file can be cut off (its writer died mid-write), and a line that is not a
prediction is skipped with a warning rather than stopping compaction.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.errors import InvalidRequest
from shipyard.prediction_log.columns import (
    COLUMNS,
    MAX_ID_LENGTH,
    MAX_MODEL_LENGTH,
    empty_frame,
    frame,
)

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.prediction_log.records import PredictionRecord

__all__ = [
    "complete_lines",
    "encode",
    "encode_line",
    "json_default",
    "json_text",
    "line_ids",
    "parse_lines",
    "prediction_lines",
    "rows_frame",
]

logger = logging.getLogger(__name__)

_JSON_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
)
_LINE_OPTIONS = (
    orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
)
_REQUIRED_KEYS = frozenset(column.line_key for column in COLUMNS if column.required)
_JSON_NAMES = tuple(column.name for column in COLUMNS if column.json)


def json_default(value: Any) -> Any:
    """JSON for the values orjson does not know: mappings, missing values, dates, ..."""
    if isinstance(value, Mapping):
        return dict(value)
    # A pandas missing value exists only where pandas was imported: not imported here.
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NA or value is pandas.NaT):
        return None
    if hasattr(value, "isoformat"):  # dates, times, pandas Timestamps
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"values of type {type(value).__name__} cannot be stored as JSON")


def json_text(value: Any) -> str:
    """``value`` as JSON text, keys of any type written as text."""
    return orjson.dumps(value, default=json_default, option=_JSON_OPTIONS).decode()


def encode_line(
    prediction_id: str,
    timestamp: datetime,
    model: str,
    version: int,
    variant: str,
    shadow_of: str | None,
    prediction: Any,
    probabilities: Mapping[str, float] | None,
    latency_ms: float,
    inputs: Mapping[str, Any],
) -> bytes:
    """One prediction as a spool line, newline included.

    Raises ``InvalidRequest`` when a value cannot be written as JSON.
    """
    # Keys in the order of COLUMNS (a test holds them to it); "id" first: line_ids reads
    # ids off the start of lines without parsing them.
    line = {
        "id": prediction_id,
        "ts": timestamp,
        "model": model,
        "version": version,
        "variant": variant,
        "shadow_of": shadow_of,
        "prediction": prediction,
        "probabilities": probabilities,
        "latency_ms": latency_ms,
        "inputs": inputs,
    }
    try:
        # Text keys only, first: allowing others makes orjson two to three times slower.
        return orjson.dumps(line, default=json_default, option=_LINE_OPTIONS)
    except TypeError:
        pass
    try:
        return orjson.dumps(
            line, default=json_default, option=_LINE_OPTIONS | orjson.OPT_NON_STR_KEYS
        )
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise InvalidRequest(
            f"prediction {prediction_id} cannot be logged: {exc}", field="inputs"
        ) from exc


def encode(record: PredictionRecord) -> bytes:
    """``record`` as a spool line."""
    return encode_line(
        record.prediction_id,
        record.timestamp,
        record.model,
        record.version,
        record.variant,
        record.shadow_of,
        record.prediction,
        record.probabilities,
        record.latency_ms,
        record.inputs,
    )


def prediction_lines(
    *,
    model: str,
    version: int,
    ids: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    values: Sequence[Any],
    probabilities: Sequence[Mapping[str, float]] | None,
    latency_ms: float,
    timestamp: datetime,
    variant: str = "primary",
    shadow_of: Sequence[str] | None = None,
) -> list[bytes]:
    """Spool lines of one request's predictions, for ``PredictionLog.append_lines``.

    The server's path: unlike ``PredictionRecord`` nothing is checked, because the server
    made every field itself (ids, a registered model and version) or parsed it from JSON.
    """
    return [
        encode_line(
            ids[i],
            timestamp,
            model,
            version,
            variant,
            None if shadow_of is None else shadow_of[i],
            values[i],
            None if probabilities is None else probabilities[i],
            latency_ms,
            row,
        )
        for i, row in enumerate(rows)
    ]


def complete_lines(data: bytes) -> list[bytes]:
    """The lines ended by a newline; anything after the last one was cut off mid-write."""
    return data.split(b"\n")[:-1]


def _utc(text: Any) -> datetime:
    """A spooled time as an aware UTC datetime; one without a zone is UTC."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _normalised(row: Any) -> dict[str, Any] | None:
    """A spooled prediction keyed by the log's column names, with the types compaction
    needs (its time an aware datetime), or None if it has none."""
    if not isinstance(row, dict) or not row.keys() >= _REQUIRED_KEYS:
        return None
    try:
        normalised = {
            "prediction_id": row["id"],
            "timestamp": _utc(row["ts"]),
            "model": row["model"],
            "version": int(row["version"]),
            "variant": str(row.get("variant") or "primary"),
            "shadow_of": row.get("shadow_of") or None,
            "prediction": row["prediction"],
            "probabilities": row.get("probabilities"),
            "latency_ms": float(row.get("latency_ms") or 0.0),
            "inputs": row["inputs"],
        }
    except (TypeError, ValueError):
        return None
    for key, longest in (("prediction_id", MAX_ID_LENGTH), ("model", MAX_MODEL_LENGTH)):
        value = normalised[key]
        if not isinstance(value, str) or not 0 < len(value) <= longest:
            return None
    shadow_of = normalised["shadow_of"]
    if shadow_of is not None and not (
        isinstance(shadow_of, str) and len(shadow_of) <= MAX_ID_LENGTH
    ):
        return None
    return normalised


def parse_lines(data: bytes, source: str, *, encoded: bool = False) -> list[dict[str, Any]]:
    """The predictions in ``data``, the bytes of spool file ``source``, as dicts keyed by
    the log's column names (``segment_rows`` gives the same).

    With ``encoded``, the JSON columns (``prediction``, ``probabilities``, ``inputs``) are
    JSON text, as a segment stores them: compaction holds a claim's rows in about the
    bytes of their lines, instead of ten times that as Python values.

    Lines that are not predictions, or whose time cannot be read, are skipped with a
    warning naming ``source``.
    """
    rows = []
    for number, line in enumerate(complete_lines(data), 1):
        if not line:
            continue
        try:
            row = _normalised(orjson.loads(line))
        except orjson.JSONDecodeError:
            row = None
        if row is None:
            logger.warning("skipping line %d of spool file %s: not a prediction", number, source)
            continue
        if encoded:
            for name in _JSON_NAMES:
                value = row[name]
                if value is not None:
                    row[name] = json_text(value)
        rows.append(row)
    return rows


def line_ids(data: bytes) -> set[str]:
    """The prediction ids of the complete lines in ``data``."""
    ids = set()
    for line in complete_lines(data):
        # Lines start with {"id":"...", so the id is read without parsing the line,
        # unless it holds an escaped character (then the fast slice contains a backslash).
        end = line.find(b'"', 7)
        candidate = line[7:end]
        if line.startswith(b'{"id":"') and end > 0 and b"\\" not in candidate:
            ids.add(candidate.decode())
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            ids.add(row["id"])
    return ids


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows of ``parse_lines`` or ``segment_rows`` as a frame."""
    if not rows:
        return empty_frame()
    return frame({column.name: [row[column.name] for row in rows] for column in COLUMNS})
