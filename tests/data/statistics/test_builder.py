"""Computing statistics from frames and chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.data.statistics import (
    StatisticsBuilder,
    compute_statistics,
)
from shipyard.errors import DataError

NAN = float("nan")


def test_numeric_column_matches_numpy() -> None:
    values = np.random.default_rng(3).normal(5.0, 2.0, size=10_000)
    values[::10] = np.nan
    values[1] = np.inf
    stats = compute_statistics(pd.DataFrame({"x": values}))["x"]
    present = values[np.isfinite(values)]

    assert (stats.type, stats.count) == ("float", 10_000)
    assert stats.missing == 1_001  # NaN and inf count as missing
    assert stats.missing_fraction == pytest.approx(0.1001)
    assert stats.min == present.min() and stats.max == present.max()
    assert stats.mean == pytest.approx(present.mean(), rel=1e-12)
    assert stats.std == pytest.approx(present.std(), rel=1e-12)
    assert stats.categorical is None
    assert stats.distinct_count == pytest.approx(present.size, rel=0.05)
    numeric = stats.numeric
    assert numeric is not None
    median = numeric.quantile(0.5)
    assert np.mean(present <= median) == pytest.approx(0.5, abs=2 * numeric.rank_error)


def test_categorical_column_counts_values() -> None:
    frame = pd.DataFrame(
        {
            "c": ["b", "a", None, "b", "c", "b", "a"],
            "cat": pd.Series(
                ["x", "y", "x", "x", None, "x", "y"], dtype="category"
            ).cat.add_categories(["unused"]),
            "flag": [True, False, True, True, True, False, True],
        }
    )
    stats = compute_statistics(frame)

    c = stats["c"]
    assert (c.type, c.count, c.missing, c.distinct_count) == ("str", 7, 1, 3)
    assert c.numeric is None and c.min is None and c.mean is None
    assert c.categorical is not None
    assert c.categorical.top(2) == [("b", 3), ("a", 2)]
    assert c.categorical.value_counts() == {"b": 3, "a": 2, "c": 1}
    assert c.categorical.is_exact and c.categorical.total == 6
    assert c.categorical.count("zzz") == 0
    assert stats["cat"].categorical is not None
    assert stats["cat"].categorical.value_counts() == {"x": 4, "y": 2}
    assert stats["flag"].type == "bool"
    assert stats["flag"].categorical is not None
    assert stats["flag"].categorical.value_counts() == {"True": 5, "False": 2}


def test_mixed_object_column_keeps_equal_comparing_values_apart() -> None:
    frame = pd.DataFrame({"o": pd.Series([1, True, 1.0, "1", None], dtype=object)})
    column = compute_statistics(frame)["o"]
    assert column.type == "str" and column.missing == 1
    assert column.categorical is not None
    assert column.categorical.value_counts() == {"1": 2, "1.0": 1, "True": 1}


def test_all_missing_column() -> None:
    stats = compute_statistics(pd.DataFrame({"e": [None, None], "f": [NAN, NAN]}))
    assert (stats["e"].type, stats["e"].missing, stats["e"].distinct_count) == ("str", 2, 0)
    assert (stats["f"].type, stats["f"].missing, stats["f"].numeric) == ("float", 2, None)


def test_chunks_give_the_statistics_of_the_whole_table() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"x": rng.normal(size=3_000), "c": rng.choice(["p", "q", "r"], size=3_000)}
    )
    whole = compute_statistics(frame)
    chunked = compute_statistics(frame.iloc[i : i + 700] for i in range(0, 3_000, 700))

    assert chunked.num_rows == whole.num_rows == 3_000
    assert chunked["x"].mean == pytest.approx(whole["x"].mean, rel=1e-9)
    assert chunked["x"].std == pytest.approx(whole["x"].std, rel=1e-9)
    assert chunked["c"].categorical is not None and whole["c"].categorical is not None
    assert chunked["c"].categorical.value_counts() == whole["c"].categorical.value_counts()


def test_builders_merge() -> None:
    left, right = StatisticsBuilder(), StatisticsBuilder()
    left.update(pd.DataFrame({"x": [1, 2]}))
    right.update(pd.DataFrame({"x": [3, 4], "y": ["a", "b"]}))
    left.merge(right)
    stats = left.result()

    assert stats.num_rows == 4 and stats.column_names == ["x", "y"]
    assert (stats["x"].mean, stats["x"].max) == (2.5, 4.0)
    assert (stats["y"].count, stats["y"].missing) == (4, 2)  # absent from the first part
    assert StatisticsBuilder().result().num_rows == 0


def test_pyarrow_tables_are_accepted() -> None:
    table = pa.table({"x": [1.0, 2.0, None], "s": ["a", None, "b"]})
    stats = compute_statistics([table, table.to_batches()[0]])
    assert stats.num_rows == 6
    assert (stats["x"].missing, stats["s"].type) == (2, "str")


def test_bad_input_is_a_data_error() -> None:
    with pytest.raises(DataError, match="duplicate column names: a"):
        compute_statistics(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(DataError, match="pandas DataFrame"):
        compute_statistics([{"a": 1}])  # type: ignore[list-item]
