"""Statistics: type inference, exact moments, sketches, merging and serialisation."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.statistics import (
    DatasetStatistics,
    StatisticsBuilder,
    compute_statistics,
    infer_column_type,
)
from shipyard.errors import DataError

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


def test_histogram_is_equal_width_and_sums_to_count() -> None:
    values = np.random.default_rng(4).uniform(0.0, 10.0, size=20_000)
    numeric = compute_statistics(pd.DataFrame({"x": values}))["x"].numeric
    assert numeric is not None
    histogram = numeric.histogram(bins=5)

    assert histogram.edges == pytest.approx(np.linspace(values.min(), values.max(), 6))
    assert sum(histogram.counts) == pytest.approx(20_000)
    exact, _ = np.histogram(values, bins=histogram.edges)
    assert histogram.counts == pytest.approx(exact, abs=3 * numeric.rank_error * 20_000)


def test_histogram_of_a_constant_column_has_one_bin() -> None:
    numeric = compute_statistics(pd.DataFrame({"x": [7.0, 7.0, 7.0]}))["x"].numeric
    assert numeric is not None
    histogram = numeric.histogram()
    assert (histogram.edges, histogram.counts) == ([7.0, 7.0], [3.0])


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


def test_lookup_of_an_unknown_column_names_the_known_ones() -> None:
    stats = compute_statistics(pd.DataFrame({"a": [1]}))
    with pytest.raises(KeyError, match="columns are: a"):
        stats["b"]


# -- merging is the same as computing on the concatenation ------------------------------

values_with_gaps = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(NAN)), max_size=60
)
labels = st.lists(st.one_of(st.sampled_from(["a", "b", "c", "dd"]), st.none()), max_size=60)


def _frame(numbers: list[float], words: list[str | None]) -> pd.DataFrame:
    size = min(len(numbers), len(words))
    return pd.DataFrame(
        {
            "x": pd.Series(numbers[:size], dtype="float64"),
            "i": pd.Series([len(w or "") for w in words[:size]], dtype="int64"),
            "w": pd.Series(words[:size], dtype="str"),
        }
    )


@settings(max_examples=60, deadline=None)
@given(values_with_gaps, labels, values_with_gaps, labels)
def test_merged_statistics_equal_statistics_of_the_union(
    numbers_a: list[float],
    words_a: list[str | None],
    numbers_b: list[float],
    words_b: list[str | None],
) -> None:
    first, second = _frame(numbers_a, words_a), _frame(numbers_b, words_b)
    merged = compute_statistics(first).merge(compute_statistics(second))
    union = compute_statistics(pd.concat([first, second], ignore_index=True))

    assert merged.num_rows == union.num_rows
    for name in ("x", "i", "w"):
        m, u = merged[name], union[name]
        assert (m.count, m.missing, m.distinct_count) == (u.count, u.missing, u.distinct_count)
        if m.present and u.present:
            assert m.type == u.type
        if u.numeric is not None:
            assert m.numeric is not None
            assert (m.numeric.min, m.numeric.max) == (u.numeric.min, u.numeric.max)
            assert m.numeric.mean == pytest.approx(u.numeric.mean, rel=1e-9, abs=1e-6)
            assert m.numeric.std == pytest.approx(u.numeric.std, rel=1e-6, abs=1e-4)
            # Fewer values than the sketch holds: quantiles are exact on both sides.
            assert m.numeric.quantiles() == u.numeric.quantiles()
        if u.categorical is not None and m.categorical is not None:
            assert m.categorical.value_counts() == u.categorical.value_counts()


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(2_000, 20_000),
    cut=st.floats(0.05, 0.95),
)
def test_merged_quantiles_stay_within_the_sketch_error(seed: int, size: int, cut: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 1.0, size=size)
    split = int(size * cut)
    merged = compute_statistics(pd.DataFrame({"v": values[:split]})).merge(
        compute_statistics(pd.DataFrame({"v": values[split:]}))
    )
    numeric = merged["v"].numeric
    assert numeric is not None
    assert numeric.count == size and (numeric.min, numeric.max) == (values.min(), values.max())
    assert numeric.mean == pytest.approx(values.mean(), rel=1e-9)
    assert numeric.std == pytest.approx(values.std(), rel=1e-9)
    ordered = np.sort(values)
    tolerance = 2 * numeric.rank_error
    for rank, value in zip(
        [0.1, 0.25, 0.5, 0.75, 0.9], numeric.quantiles([0.1, 0.25, 0.5, 0.75, 0.9]), strict=True
    ):
        below = np.searchsorted(ordered, value, side="left") / size
        at_or_below = np.searchsorted(ordered, value, side="right") / size
        assert below - tolerance <= rank <= at_or_below + tolerance
    assert merged["v"].distinct_count == pytest.approx(size, rel=0.1)  # 6 sigma of HLL
    assert not math.isnan(numeric.std)
