"""Reading cells: bad numbers, categories and columns are refused by name."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.data.transform import (
    FittedTransform,
    TransformStats,
)
from shipyard.errors import InvalidRequest, SchemaMismatch


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.5", "expected a number, got the text '12.5'; send numbers as JSON numbers"),
        (True, "expected a number, got the boolean True"),
        ([1.0], "expected a number, got a list"),
        ({"v": 1}, "expected a number, got a dict"),
        (math.inf, "expected a finite number, got inf"),
        (10**400, "the number is too large"),
    ],
)
def test_rows_refuse_bad_numbers(fitted_small: FittedTransform, value: Any, reason: str) -> None:
    stats = TransformStats()
    rows = [{"area": 1.0, "rooms": 1, "city": "a"}, {"area": value, "rooms": 1, "city": "a"}]
    with pytest.raises(InvalidRequest) as caught:
        fitted_small.transform_rows(rows, stats=stats)
    assert str(caught.value).startswith("row 1, column 'area': ")
    assert reason in str(caught.value)
    assert caught.value.field == "area"
    assert stats == TransformStats()  # nothing half-counted


@pytest.mark.parametrize("value", [["a"], {"a": 1}, b"a"])
def test_rows_refuse_bad_categories(fitted_small: FittedTransform, value: Any) -> None:
    with pytest.raises(InvalidRequest, match="row 0, column 'city': expected text") as caught:
        fitted_small.transform_rows([{"city": value}])
    assert caught.value.field == "city"


def test_frames_refuse_missing_columns_and_bad_types(fitted_small: FittedTransform) -> None:
    good = pd.DataFrame({"area": [1.0], "rooms": [1], "city": ["a"]})
    with pytest.raises(SchemaMismatch, match="column 'rooms' is missing") as caught:
        fitted_small.transform_frame(good.drop(columns="rooms"))
    assert caught.value.column == "rooms"
    with pytest.raises(SchemaMismatch, match=r"2 columns \('area', 'rooms'\) are missing"):
        fitted_small.transform_frame(good[["city"]])
    text = good.assign(area=pd.Series(["12.5"], index=good.index, dtype="str"))
    with pytest.raises(SchemaMismatch, match="column 'area', row 0: expected a number, got the"):
        fitted_small.transform_frame(text)
    with pytest.raises(SchemaMismatch, match="'rooms' holds booleans"):
        fitted_small.transform_frame(good.assign(rooms=[True]))
    with pytest.raises(SchemaMismatch, match="column 'area', row 0: expected a finite number"):
        fitted_small.transform_frame(good.assign(area=[np.inf]))
    with pytest.raises(SchemaMismatch, match="column 'city', row 0: expected text"):
        fitted_small.transform_frame(good.assign(city=pd.Series([[1]], dtype=object)))
