"""Helpers shared by the prediction log's tests: records, and what the log holds on disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shipyard.prediction_log import PredictionLog, PredictionRecord

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def record(n: int, *, model: str = "ames", **fields: Any) -> PredictionRecord:
    """Prediction ``n``: id ``p0000n``, made ``n`` minutes after ``T0``."""
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
    """The log's spool files, open or closed."""
    return sorted(log.spool.glob("*.jsonl"))


def segment_rows(log: PredictionLog) -> int:
    """How many predictions the log's segments hold."""
    return sum(segment.rows for segment in log.records.segments())
