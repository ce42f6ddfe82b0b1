"""Column types: inference from dtypes and content, and how they merge."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.data.statistics import ColumnType, compute_statistics, infer_column_type
from shipyard.data.statistics.column_types import merged_type

NAN = float("nan")


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pd.Series([1, 2, 3]), "int"),
        (pd.Series([1, None, 3], dtype="Int64"), "int"),
        (pd.Series([1.0, NAN, 3.0]), "int"),  # an int column that pandas made float
        (pd.Series([1.0, 2.0, -3.0]), "int"),  # whole numbers, whatever the dtype
        (pd.Series([1.0, 2.0, 3.5]), "float"),
        (pd.Series([1.5, NAN]), "float"),
        (pd.Series([NAN, NAN]), "float"),
        (pd.Series([True, False]), "bool"),
        (pd.Series([True, None], dtype="boolean"), "bool"),
        (pd.Series([True, None, False], dtype=object), "bool"),
        (pd.Series(["a", None, "b"]), "str"),
        (pd.Series(["1", "2", "3"]), "str"),  # looks numeric, stays text
        (pd.Series([1, "a", 2.5], dtype=object), "str"),
        (pd.Series([None, None], dtype=object), "str"),
        (pd.Series([1, None, 3], dtype=object), "int"),
        (pd.Series([1.5, None], dtype=object), "float"),
        (pd.Series(["x", "y"], dtype="category"), "str"),
        (pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])), "str"),
    ],
)
def test_infer_column_type(series: pd.Series[Any], expected: str) -> None:
    assert infer_column_type(series) == expected


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        ([1, 2], [0.5, 1.5], "float"),
        ([1, 2], ["a", "b"], "str"),
        ([True, False], [1, 2], "str"),
        ([None, None], [1, 2], "int"),  # a part without values takes the other's type
    ],
)
def test_types_merge(first: list[Any], second: list[Any], merged: str) -> None:
    chunks = [pd.DataFrame({"v": first}), pd.DataFrame({"v": second})]
    column = compute_statistics(chunks)["v"]
    assert column.type == merged
    assert (column.count, column.missing) == (4, sum(v is None for v in first + second))


TYPES = st.sampled_from(["int", "float", "bool", "str"])


@given(TYPES, st.integers(0, 5), TYPES, st.integers(0, 5))
def test_merged_type_is_symmetric_and_defers_to_the_side_with_values(
    left: ColumnType, left_present: int, right: ColumnType, right_present: int
) -> None:
    merged = merged_type(left, left_present, right, right_present)
    assert merged == merged_type(right, right_present, left, left_present)
    assert merged_type(left, left_present, left, right_present) == left
    if left != right and left_present == 0 and right_present > 0:
        assert merged == right
    elif left != right and left_present > 0 and right_present > 0:
        assert merged == ("float" if {left, right} == {"int", "float"} else "str")
