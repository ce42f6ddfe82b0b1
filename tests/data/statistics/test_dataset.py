"""Column and dataset statistics: lookup, and merging as computing on the union."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.statistics import (
    compute_statistics,
)

NAN = float("nan")


def test_lookup_of_an_unknown_column_names_the_known_ones() -> None:
    stats = compute_statistics(pd.DataFrame({"a": [1]}))
    with pytest.raises(KeyError, match="columns are: a"):
        stats["b"]


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
        if u.categorical is not None:
            # A category lost in the merge must fail the test, not skip the comparison.
            assert m.categorical is not None
            assert m.categorical.value_counts() == u.categorical.value_counts()
