"""Drift metrics: the distances' mathematical properties and drift on real columns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shipyard.data.drift import (
    DEFAULT_DRIFT_THRESHOLDS,
    DriftResult,
    column_drift,
    dataset_drift,
    jensen_shannon_distance,
    linf_distance,
)
from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.errors import DataError, SchemaMismatch

masses = st.lists(st.floats(0.0, 1e3, allow_nan=False), min_size=1, max_size=12)


def _same_length(data: st.DataObject) -> tuple[list[float], list[float]]:
    p = data.draw(masses)
    q = data.draw(st.lists(st.floats(0.0, 1e3), min_size=len(p), max_size=len(p)))
    assume(sum(p) > 1e-6 and sum(q) > 1e-6)
    return p, q


@settings(max_examples=200)
@given(st.data())
def test_jensen_shannon_is_a_symmetric_distance_in_the_unit_interval(data: st.DataObject) -> None:
    p, q = _same_length(data)
    forward, backward = jensen_shannon_distance(p, q), jensen_shannon_distance(q, p)
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(backward, abs=1e-12)
    assert jensen_shannon_distance(p, p) == pytest.approx(0.0, abs=1e-7)
    # Only the shape counts, not the total mass.
    assert jensen_shannon_distance([3 * m for m in p], q) == pytest.approx(forward, abs=1e-7)


@settings(max_examples=100)
@given(st.data())
def test_jensen_shannon_satisfies_the_triangle_inequality(data: st.DataObject) -> None:
    p, q = _same_length(data)
    r = data.draw(st.lists(st.floats(0.0, 1e3), min_size=len(p), max_size=len(p)))
    assume(sum(r) > 1e-6)
    assert jensen_shannon_distance(p, r) <= (
        jensen_shannon_distance(p, q) + jensen_shannon_distance(q, r) + 1e-9
    )


def test_jensen_shannon_known_values() -> None:
    assert jensen_shannon_distance([1, 0], [0, 1]) == 1.0
    # m = (3/4, 1/4): JSD = (log2(4/3) + (1/2) log2(2/3) + 1/2) / 2 bits.
    expected = math.sqrt(0.5 * math.log2(4 / 3) + 0.25 * math.log2(2 / 3) + 0.25)
    assert jensen_shannon_distance([1, 0], [1, 1]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p", "q"), [([1, 2], [1]), ([0, 0], [1, 1]), ([-1, 2], [1, 1]), ([math.nan], [1])]
)
def test_jensen_shannon_rejects_bad_masses(p: list[float], q: list[float]) -> None:
    with pytest.raises(ValueError, match="mass"):
        jensen_shannon_distance(p, q)


frequencies = st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0.0, 1.0), max_size=8)


@given(frequencies, frequencies, frequencies)
def test_linf_is_a_metric(p: dict[str, float], q: dict[str, float], r: dict[str, float]) -> None:
    assert linf_distance(p, q) == linf_distance(q, p) >= 0.0
    assert linf_distance(p, p) == 0.0
    assert linf_distance(p, r) <= linf_distance(p, q) + linf_distance(q, r) + 1e-12
    assert linf_distance(p, {}) == max(p.values(), default=0.0)


def test_linf_of_disjoint_distributions_is_the_largest_share() -> None:
    assert linf_distance({"a": 0.7, "b": 0.3}, {"c": 0.6, "d": 0.4}) == 0.7


def _stats(**columns: object) -> DatasetStatistics:
    return compute_statistics(pd.DataFrame(columns))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 3_000),
    shift=st.floats(-3.0, 3.0),
)
def test_numeric_drift_is_zero_for_itself_and_bounded(seed: int, size: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    reference = _stats(x=rng.normal(size=size))["x"]
    current = _stats(x=rng.normal(shift, size=size))["x"]
    assert column_drift(reference, reference).value == 0.0
    assert 0.0 <= column_drift(reference, current).value <= 1.0


def test_numeric_drift_detects_a_shift_and_not_a_resample() -> None:
    rng = np.random.default_rng(7)
    reference = _stats(x=rng.normal(size=50_000))["x"]
    same = _stats(x=rng.normal(size=5_000))["x"]
    shifted = _stats(x=rng.normal(0.5, size=5_000))["x"]

    steady = column_drift(reference, same)
    assert (steady.metric, steady.drifted) == ("jensen_shannon", False)
    assert steady.value < 0.05
    moved = column_drift(reference, shifted)
    assert moved.drifted and moved.value > 0.15
    assert moved.threshold == DEFAULT_DRIFT_THRESHOLDS["jensen_shannon"]
    assert not column_drift(reference, shifted, threshold=0.5).drifted


def test_values_beyond_the_reference_range_count_as_drift() -> None:
    reference = _stats(x=np.linspace(0.0, 1.0, 1_000))["x"]
    below = _stats(x=np.linspace(-5.0, -4.0, 1_000))["x"]
    above = _stats(x=np.linspace(4.0, 5.0, 1_000))["x"]
    assert column_drift(reference, below).value == pytest.approx(1.0)
    assert column_drift(reference, above).value == pytest.approx(1.0)


def test_discrete_numeric_drift() -> None:
    reference = _stats(n=[0] * 50 + [1] * 50)["n"]
    current = _stats(n=[0] * 90 + [1] * 10)["n"]
    p, q = [0.5, 0.5], [0.9, 0.1]
    assert column_drift(reference, current).value == pytest.approx(jensen_shannon_distance(p, q))


def test_categorical_drift_is_the_largest_change_in_share() -> None:
    reference = _stats(c=["a"] * 50 + ["b"] * 50)["c"]
    current = _stats(c=["a"] * 20 + ["b"] * 50 + ["new"] * 30)["c"]
    result = column_drift(reference, current)
    assert result == DriftResult("c", "linf", pytest.approx(0.3), 0.1, True)  # type: ignore[arg-type]
    assert column_drift(current, current).value == 0.0


def test_incomparable_columns_raise() -> None:
    numbers, words = _stats(v=[1.0, 2.0])["v"], _stats(v=["a", "b"])["v"]
    with pytest.raises(SchemaMismatch, match="'v' cannot be compared") as caught:
        column_drift(numbers, words)
    assert caught.value.column == "v"
    empty = _stats(v=[math.nan, math.nan])["v"]
    with pytest.raises(DataError, match="no values in the current"):
        column_drift(numbers, empty)


def test_dataset_drift_compares_shared_comparable_columns() -> None:
    rng = np.random.default_rng(8)
    reference = _stats(
        x=rng.normal(size=2_000),
        c=rng.choice(["a", "b"], 2_000),
        gone=np.ones(2_000),
        retyped=np.ones(2_000),
    )
    current = _stats(
        x=rng.normal(2.0, size=2_000),
        c=rng.choice(["a", "b"], 2_000),
        retyped=["one"] * 2_000,
        new=np.ones(2_000),
    )
    results = dataset_drift(reference, current)
    assert [(r.column, r.metric, r.drifted) for r in results] == [
        ("x", "jensen_shannon", True),
        ("c", "linf", False),
    ]
    assert {r.threshold for r in dataset_drift(reference, current, 0.9)} == {0.9}
    per_column = dataset_drift(reference, current, {"x": 0.99})
    assert [(r.threshold, r.drifted) for r in per_column] == [(0.99, False), (0.1, False)]


def test_drift_result_round_trips() -> None:
    result = DriftResult("x", "jensen_shannon", 0.2, 0.1, True)
    assert DriftResult.from_dict(result.to_dict()) == result
    with pytest.raises(DataError, match="metric must be one of"):
        DriftResult.from_dict({**result.to_dict(), "metric": "psi"})
