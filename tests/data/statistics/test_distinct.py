"""The distinct-count sketch fed only the values that can change it ends the same."""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
from datasketches import hll_sketch
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.statistics import compute_statistics
from shipyard.data.statistics.distinct import may_change_sketch


def fed(values: np.ndarray, lg_k: int) -> bytes:
    sketch = hll_sketch(lg_k)
    collections.deque(map(sketch.update, values.tolist()), maxlen=0)
    return bytes(sketch.serialize_updatable())


def assert_same_sketch(values: np.ndarray, lg_k: int) -> None:
    keep = may_change_sketch(values, lg_k)
    assert keep is not None, "the filter should apply to arrays this large"
    assert fed(values[keep], lg_k) == fed(values, lg_k)


special = st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.5e-308, 1e308])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(4, 12),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 0.3),
    st.lists(special, max_size=20),
)
def test_filtered_feed_leaves_the_sketch_byte_for_byte_the_same(
    lg_k: int, seed: int, repeated: float, extras: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(3 << lg_k, max(30 << lg_k, 100_000)))
    values = rng.normal(size=size) * 10.0 ** rng.integers(-5, 6)
    # Some values repeat, some are bit patterns the sketch makes canonical (-0.0, NaN).
    copies = rng.random(size) < repeated
    values[copies] = values[rng.integers(0, size, int(copies.sum()))]
    if extras:
        where = rng.integers(0, size, len(extras))
        values[where] = extras
    assert_same_sketch(values, lg_k)


def test_filtered_feed_on_the_default_sketch_with_a_million_values() -> None:
    values = np.random.default_rng(7).normal(size=1_000_000)
    keep = may_change_sketch(values, 12)
    assert keep is not None and keep.sum() < 0.05 * values.size
    assert fed(values[keep], 12) == fed(values, 12)


def test_filter_declines_when_it_would_not_pay() -> None:
    assert may_change_sketch(np.arange(100, dtype=np.float64), 12) is None
    # Few distinct values: the sketch may stay in its exact modes.
    assert may_change_sketch(np.tile([1.0, 2.0, 3.0], 50_000), 12) is None


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([5, 12]))
def test_statistics_distinct_sketch_matches_feeding_every_value(seed: int, lg_k: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(40_000, 120_000))
    values = np.round(rng.normal(size=size), int(rng.integers(1, 8)))
    values[rng.random(size) < 0.05] = np.nan
    column = compute_statistics(pd.DataFrame({"x": values}), distinct_lg_k=lg_k)["x"]
    present = values[~np.isnan(values)]
    assert bytes(column.distinct.serialize_updatable()) == fed(present, lg_k)
