"""Numeric and categorical summaries: histograms, quantiles and merging."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.statistics import (
    CategoricalSummary,
    NumericSummary,
    compute_statistics,
)


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


finite = st.floats(-1e6, 1e6, allow_nan=False)


def _numeric(values: list[float]) -> NumericSummary:
    summary = compute_statistics(pd.DataFrame({"x": values}, dtype="float64"))["x"].numeric
    assert summary is not None
    return summary


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50), st.lists(finite, min_size=1, max_size=50))
def test_numeric_merge_gives_the_moments_of_the_union(
    first: list[float], second: list[float]
) -> None:
    union = np.array(first + second)
    merged = _numeric(first).merge(_numeric(second))
    swapped = _numeric(second).merge(_numeric(first))
    assert merged.count == swapped.count == union.size
    assert (merged.min, merged.max) == (union.min(), union.max())
    assert merged.mean == pytest.approx(union.mean(), rel=1e-9, abs=1e-6)
    assert merged.variance == pytest.approx(union.var(), rel=1e-6, abs=1e-3)
    assert merged.mean == pytest.approx(swapped.mean, rel=1e-12, abs=1e-9)
    # Fewer values than the sketch holds: the merged sketch is exact.
    assert merged.quantiles() == _numeric(first + second).quantiles()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "dd", "e"]), max_size=40),
    st.lists(st.sampled_from(["a", "b", "c", "dd", "e"]), max_size=40),
)
def test_categorical_merge_adds_the_counts(first: list[str], second: list[str]) -> None:
    def summary(values: list[str]) -> CategoricalSummary:
        column = compute_statistics(pd.DataFrame({"w": pd.Series(values, dtype=object)}))["w"]
        assert column.categorical is not None
        return column.categorical

    merged = summary(first).merge(summary(second))
    expected = Counter(first) + Counter(second)
    assert merged.value_counts() == dict(sorted(expected.items(), key=lambda i: (-i[1], i[0])))
    assert merged.total == len(first) + len(second) and merged.is_exact
