"""Drift metrics: the distances' mathematical properties and drift on real columns."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shipyard.data.drift import (
    DEFAULT_DRIFT_THRESHOLD,
    DriftResult,
    column_drift,
    dataset_drift,
    jensen_shannon_distance,
    noise_threshold,
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


def _stats(**columns: object) -> DatasetStatistics:
    return compute_statistics(pd.DataFrame(columns))


@settings(max_examples=200, deadline=None)  # the first call imports scipy.stats
@given(
    n=st.integers(1, 10**7),
    m=st.integers(1, 10**7),
    more=st.integers(1, 10**6),
    bins=st.integers(1, 500),
    confidence=st.floats(0.5, 0.99999),
)
def test_noise_shrinks_with_sample_size_and_grows_with_bins_and_confidence(
    n: int, m: int, more: int, bins: int, confidence: float
) -> None:
    noise = noise_threshold(n, m, bins, confidence=confidence)
    assert 0.0 <= noise <= 1.0
    assert noise_threshold(n + more, m, bins, confidence=confidence) <= noise + 1e-12
    assert noise_threshold(n, m + more, bins, confidence=confidence) <= noise + 1e-12
    assert noise_threshold(m, n, bins, confidence=confidence) == pytest.approx(noise)
    assert noise_threshold(n, m, bins + 1, confidence=confidence) >= noise - 1e-12
    stricter = min(confidence + (1 - confidence) / 2, 0.999999)
    assert noise_threshold(n, m, bins, confidence=stricter) >= noise - 1e-12


def test_noise_threshold_values_and_bad_arguments() -> None:
    # (1/n + 1/m) * chi2.ppf(0.999, 11) / 8 nats, times the sparse-bin correction.
    chi2_999_11 = 31.264135
    expected = math.sqrt(2e-3 * chi2_999_11 * (1 + 2 * 11 / 1_000) / (8 * math.log(2)))
    assert noise_threshold(1_000, 1_000, 12, confidence=0.999) == pytest.approx(expected)
    assert noise_threshold(10, 10, 1, confidence=0.999) == 0.0
    assert noise_threshold(1, 1, 1_000, confidence=0.999) == 1.0
    for n, m, bins, confidence in [(0, 5, 3, 0.9), (5, 5, 0, 0.9), (5, 5, 3, 1.0)]:
        with pytest.raises(ValueError):
            noise_threshold(n, m, bins, confidence=confidence)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 3_000),
    shift=st.floats(-3.0, 3.0),
    floor=st.floats(0.0, 1.0),
    categorical=st.booleans(),
)
def test_drift_is_bounded_and_its_threshold_never_below_the_floor(
    seed: int, size: int, shift: float, floor: float, categorical: bool
) -> None:
    rng = np.random.default_rng(seed)
    before, after = rng.normal(size=size), rng.normal(shift, size=size)
    if categorical:
        before, after = np.round(before).astype(str), np.round(after).astype(str)
    reference, current = _stats(x=before)["x"], _stats(x=after)["x"]
    assert column_drift(reference, reference, min_count=1).value == pytest.approx(0.0, abs=1e-7)
    result = column_drift(reference, current, threshold=floor, min_count=1)
    assert result.value is not None and 0.0 <= result.value <= 1.0
    assert result.threshold >= floor
    assert result.drifted == (result.value > result.threshold)
    assert (result.count, result.reference_count) == (size, size)
    judged = column_drift(reference, current, threshold=floor)
    assert (judged.status == "not enough data") == (size < 100)


def _normal(rng: np.random.Generator, size: int) -> object:
    return rng.normal(size=size)


def _categories(rng: np.random.Generator, size: int, boost: float = 1.0) -> object:
    shares = np.ones(30)
    shares[:3] *= boost
    return rng.choice([f"v{i:02d}" for i in range(30)], size, p=shares / shares.sum())


@pytest.mark.parametrize("draw", [_normal, _categories])
@pytest.mark.parametrize(("size", "seeds"), [(200, 12), (1_000_000, 2)])
def test_two_samples_of_one_distribution_are_not_drift(
    draw: Callable[[np.random.Generator, int], object], size: int, seeds: int
) -> None:
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        reference, current = _stats(x=draw(rng, size))["x"], _stats(x=draw(rng, size))["x"]
        result = column_drift(reference, current)
        assert result.status == "stable", (seed, result)
        if size == 200:  # small samples are held to their noise, not to the floor
            assert result.threshold > DEFAULT_DRIFT_THRESHOLD


@pytest.mark.parametrize(
    "shifted",
    [
        pytest.param(lambda rng, size: rng.normal(0.5, 1.0, size), id="mean +0.5 std"),
        pytest.param(lambda rng, size: rng.normal(0.0, 2.0, size), id="scale x2"),
        pytest.param(lambda rng, size: _categories(rng, size, boost=4.0), id="3 of 30 values x4"),
    ],
)
def test_real_shifts_are_drift_at_5000_values(
    shifted: Callable[[np.random.Generator, int], object],
) -> None:
    categorical = isinstance(shifted(np.random.default_rng(0), 1)[0], str)  # type: ignore[index]
    for seed in range(3):
        rng = np.random.default_rng(seed)
        before = _categories(rng, 5_000) if categorical else _normal(rng, 5_000)
        result = column_drift(_stats(x=before)["x"], _stats(x=shifted(rng, 5_000))["x"])
        assert result.status == "drifted", (seed, result)
        assert result.threshold == DEFAULT_DRIFT_THRESHOLD


def test_the_old_categorical_measure_missed_the_spread_out_shift() -> None:
    # Why categories moved to Jensen-Shannon: no single share moves by 0.1 here.
    shares = np.ones(30)
    boosted = shares.copy()
    boosted[:3] *= 4
    assert np.abs(shares / shares.sum() - boosted / boosted.sum()).max() < 0.1
    assert jensen_shannon_distance(shares, boosted) > 0.15


def test_too_few_values_are_not_enough_data() -> None:
    rng = np.random.default_rng(3)
    reference = _stats(x=rng.normal(size=1_000))["x"]
    few = _stats(x=rng.normal(5.0, size=99))["x"]  # far off, but only 99 values
    result = column_drift(reference, few)
    assert result == DriftResult(
        "x", "jensen_shannon", None, DEFAULT_DRIFT_THRESHOLD, False, 99, 1_000, "not enough data"
    )
    assert column_drift(reference, few, min_count=50).status == "drifted"
    empty = _stats(x=[math.nan] * 500)["x"]
    assert column_drift(reference, empty).status == "not enough data"
    assert column_drift(empty, reference).status == "not enough data"


def test_numeric_drift_detects_a_shift_and_not_a_resample() -> None:
    rng = np.random.default_rng(7)
    reference = _stats(x=rng.normal(size=50_000))["x"]
    same = _stats(x=rng.normal(size=5_000))["x"]
    shifted = _stats(x=rng.normal(0.5, size=5_000))["x"]

    steady = column_drift(reference, same)
    assert (steady.metric, steady.status) == ("jensen_shannon", "stable")
    assert steady.value is not None and steady.value < 0.05
    moved = column_drift(reference, shifted)
    assert moved.drifted and moved.value is not None and moved.value > 0.15
    assert moved.threshold == DEFAULT_DRIFT_THRESHOLD
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


def test_categorical_drift_is_jensen_shannon_over_the_union_of_values() -> None:
    reference = _stats(c=["a"] * 50 + ["b"] * 50)["c"]
    current = _stats(c=["a"] * 20 + ["b"] * 50 + ["new"] * 30)["c"]
    result = column_drift(reference, current)
    expected = jensen_shannon_distance([50, 50, 0], [20, 50, 30])
    noise = noise_threshold(100, 100, 3, confidence=0.999)
    assert noise > DEFAULT_DRIFT_THRESHOLD  # 100 values each: the noise sets the bar
    assert result == DriftResult(
        "c",
        "jensen_shannon",
        pytest.approx(expected),  # type: ignore[arg-type]
        pytest.approx(noise),  # type: ignore[arg-type]
        True,
        100,
        100,
        "drifted",
    )
    assert column_drift(current, current).value == 0.0
    bools = _stats(b=[True] * 300 + [False] * 700)["b"]
    flipped = _stats(b=[True] * 700 + [False] * 300)["b"]
    assert column_drift(bools, flipped).value == pytest.approx(
        jensen_shannon_distance([3, 7], [7, 3])
    )


@pytest.mark.parametrize("share", [0.004, 0.02, 0.1])
def test_a_share_of_unseen_values_alone_is_a_distance_of_its_half_root(share: float) -> None:
    # The mixture halves a new value's mass: each contributes share / 2 bits.
    seen = round(10_000 * (1 - share))
    reference = _stats(c=["a"] * 5_000 + ["b"] * 5_000)["c"]
    current = _stats(c=["a"] * (seen // 2) + ["b"] * (seen - seen // 2) + ["new"] * (10_000 - seen))
    value = column_drift(reference, current["c"]).value
    assert value == pytest.approx(math.sqrt(share / 2), rel=0.05)


def test_untracked_values_share_a_bin() -> None:
    # More distinct values than the frequent-items sketch tracks: the rest still counts.
    many = [f"id{i}" for i in range(5_000)]
    reference = _stats(c=many)["c"]
    result = column_drift(reference, _stats(c=["id1"] * 5_000)["c"])
    assert result.drifted and result.value is not None and result.value > 0.9
    assert column_drift(reference, reference).value == pytest.approx(0.0, abs=1e-7)


def test_incomparable_columns_raise() -> None:
    numbers, words = _stats(v=[1.0, 2.0])["v"], _stats(v=["a", "b"])["v"]
    with pytest.raises(SchemaMismatch, match="'v' cannot be compared") as caught:
        column_drift(numbers, words)
    assert caught.value.column == "v"
    with pytest.raises(ValueError, match="threshold"):
        column_drift(numbers, numbers, threshold=-0.1)
    with pytest.raises(ValueError, match="confidence"):
        column_drift(numbers, numbers, confidence=1.0)  # even with too few values to judge


def test_dataset_drift_compares_shared_comparable_columns() -> None:
    rng = np.random.default_rng(8)
    reference = _stats(
        x=rng.normal(size=2_000),
        c=rng.choice(["a", "b"], 2_000),
        gone=np.ones(2_000),
        retyped=np.ones(2_000),
        sparse=rng.normal(size=2_000),
        empty=rng.normal(size=2_000),
    )
    current = _stats(
        x=rng.normal(2.0, size=2_000),
        c=rng.choice(["a", "b"], 2_000),
        retyped=["one"] * 2_000,
        new=np.ones(2_000),
        sparse=np.where(np.arange(2_000) < 50, rng.normal(3.0, size=2_000), np.nan),
        empty=np.full(2_000, np.nan),
    )
    results = dataset_drift(reference, current)
    assert [(r.column, r.metric, r.status, r.count) for r in results] == [
        ("x", "jensen_shannon", "drifted", 2_000),
        ("c", "jensen_shannon", "stable", 2_000),
        ("sparse", "jensen_shannon", "not enough data", 50),
        ("empty", "jensen_shannon", "not enough data", 0),
    ]
    assert {r.threshold for r in dataset_drift(reference, current, 0.9)} == {0.9}
    per_column = dataset_drift(reference, current, {"x": 0.99})
    assert [(r.threshold, r.drifted) for r in per_column[:2]] == [(0.99, False), (0.1, False)]
    lenient = dataset_drift(reference, current, min_count=10)
    assert lenient[2].status == "drifted" and lenient[3].status == "not enough data"


def test_drift_result_round_trips() -> None:
    for result in [
        DriftResult("x", "jensen_shannon", 0.2, 0.1, True, 500, 1_000, "drifted"),
        DriftResult("x", "jensen_shannon", None, 0.1, False, 3, 1_000, "not enough data"),
    ]:
        assert DriftResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    with pytest.raises(DataError, match="metric must be one of"):
        DriftResult.from_dict({**result.to_dict(), "metric": "psi"})
    with pytest.raises(DataError, match="contradicts"):
        DriftResult.from_dict({**result.to_dict(), "drifted": True})


def test_drift_results_stored_before_statuses_still_read() -> None:
    old = {"column": "c", "metric": "linf", "value": 0.3, "threshold": 0.1, "drifted": True}
    assert DriftResult.from_dict(old) == DriftResult("c", "linf", 0.3, 0.1, True, 0, 0, "drifted")
    calm = DriftResult.from_dict({**old, "metric": "jensen_shannon", "drifted": False})
    assert calm.status == "stable" and calm.value == 0.3
