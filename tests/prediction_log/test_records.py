"""PredictionRecord's checks and fresh prediction ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard import InvalidRequest
from shipyard.prediction_log import PredictionRecord, new_prediction_id, new_prediction_ids


def make(**fields: Any) -> PredictionRecord:
    values: dict[str, Any] = {
        "prediction_id": "p1",
        "model": "ames",
        "version": 1,
        "inputs": {"x": 1},
        "prediction": 1.0,
        "latency_ms": 0.5,
    }
    values.update(fields)
    return PredictionRecord(**values)


def test_a_record_defaults_to_the_primary_variant_and_the_current_time() -> None:
    record = make(version=np.int64(2), latency_ms=np.float32(1.5))
    assert record.variant == "primary"
    assert record.timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prediction_id", "", "prediction_id must be a string of 1 to 128"),
        ("prediction_id", "x" * 129, "prediction_id must be a string of 1 to 128"),
        ("prediction_id", 7, "prediction_id must be a string"),
        ("model", "m" * 201, "model must be a name of 1 to 200"),
        ("version", "3", "version must be an integer"),
        ("latency_ms", "fast", "latency_ms must be a number"),
    ],
)
def test_fields_compaction_could_not_store_are_refused_by_name(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        make(**{field: value})
    assert caught.value.field == field


def test_fresh_ids_are_32_hex_digits_and_unique() -> None:
    ids = new_prediction_ids(1000) + [new_prediction_id() for _ in range(1000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
