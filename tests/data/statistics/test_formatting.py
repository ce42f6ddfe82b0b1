"""The stored form of statistics: read back identically, refused by field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.data.statistics import (
    DatasetStatistics,
    compute_statistics,
)
from shipyard.errors import DataError


def test_serialised_statistics_read_back_identically() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=5_000),
            "n": rng.integers(0, 9, size=5_000),
            "c": rng.choice(["a", "b"], size=5_000),
            "e": [None] * 5_000,
        }
    )
    stats = compute_statistics(frame)
    text = json.dumps(stats.to_dict(), allow_nan=False)
    again = DatasetStatistics.from_dict(json.loads(text))

    # Sketch bytes may differ (queries reorder a sketch's buffers); what they say may not.
    assert _readable(again.to_dict()) == _readable(stats.to_dict())
    assert again["c"].categorical is not None
    assert again["c"].categorical.value_counts() == frame["c"].value_counts().to_dict()
    summary = json.loads(text)["columns"][0]["summary"]
    assert summary["mean"] == stats["x"].mean and len(summary["histogram"]["counts"]) == 10


def _readable(data: dict[str, Any]) -> dict[str, Any]:
    sketches = {"sketch", "distinct", "frequencies"}
    columns = [
        {
            key: {k: v for k, v in value.items() if k not in sketches}
            if isinstance(value, dict)
            else value
            for key, value in column.items()
            if key not in sketches
        }
        for column in data["columns"]
    ]
    return {**data, "columns": columns}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other/9"), "format 'other/9'"),
        (lambda d: d["columns"][0].pop("count"), "field 'columns.0.count'"),
        (lambda d: d["columns"][0].update(type="text"), "field 'columns.0.type'"),
        (lambda d: d["columns"][0].update(distinct="@@@"), "column 'x': distinct"),
        (lambda d: d["columns"][0].update(missing=99), "missing=99"),
        (lambda d: d.update(num_rows=3), "count 2 rows, the dataset 3"),
        (lambda d: d["columns"][0]["numeric"].update(count=0), "numeric.count"),
        (lambda d: d["columns"].append(d["columns"][0]), "column 'x' twice"),
    ],
)
def test_invalid_serialised_statistics_name_the_problem(change: Any, message: str) -> None:
    data = compute_statistics(pd.DataFrame({"x": [1.0, 2.0]})).to_dict()
    change(data)
    with pytest.raises(DataError, match=message):
        DatasetStatistics.from_dict(data)
