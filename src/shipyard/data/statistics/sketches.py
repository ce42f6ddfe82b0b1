"""Summaries of a column's values that merge: moments and sketches.

``NumericSummary`` holds exact moments (Chan's parallel formula for mean and variance),
the extremes and a KLL quantile sketch; ``CategoricalSummary`` a frequent-items sketch.
Merging two summaries gives the summary of the union of their values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from datasketches import frequent_items_error_type, frequent_strings_sketch, kll_doubles_sketch

__all__ = [
    "DEFAULT_QUANTILE_RANKS",
    "CategoricalSummary",
    "Histogram",
    "NumericSummary",
    "merge_optional",
]

#: Ranks reported by :meth:`NumericSummary.quantiles` and in serialised summaries.
DEFAULT_QUANTILE_RANKS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Histogram:
    """Approximate counts of values between consecutive ``edges``."""

    edges: list[float]
    counts: list[float]


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """Moments, extremes and a KLL quantile sketch of the present values of a column."""

    count: int
    mean: float
    m2: float
    min: float
    max: float
    sketch: Any  # datasketches.kll_doubles_sketch

    @classmethod
    def of(cls, present: FloatArray, *, quantile_k: int) -> NumericSummary | None:
        """Summary of ``present`` (values that are not missing); None when it is empty."""
        if present.size == 0:
            return None
        sketch = kll_doubles_sketch(quantile_k)
        # The binding accepts only writable arrays; pandas hands out read-only views.
        sketch.update(np.require(present, np.float64, ["C", "W"]))
        with np.errstate(over="ignore", invalid="ignore"):
            mean = float(present.mean())
            m2 = float(np.square(present - mean).sum())
        return cls(
            count=int(present.size),
            mean=mean,
            m2=m2,
            min=float(present.min()),
            max=float(present.max()),
            sketch=sketch,
        )

    @property
    def variance(self) -> float:
        """Population variance."""
        return self.m2 / self.count

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return math.sqrt(max(self.variance, 0.0))

    @property
    def rank_error(self) -> float:
        """Normalised rank error of the quantile sketch (about 99% confidence)."""
        return float(self.sketch.normalized_rank_error(False))

    def quantile(self, rank: float) -> float:
        """Approximate value at normalised ``rank`` in [0, 1]."""
        return self.quantiles([rank])[0]

    def quantiles(self, ranks: Sequence[float] = DEFAULT_QUANTILE_RANKS) -> list[float]:
        """Approximate values at each normalised rank."""
        if any(not 0.0 <= rank <= 1.0 for rank in ranks):
            raise ValueError(f"quantile ranks must lie in [0, 1], got {list(ranks)}")
        return [float(value) for value in self.sketch.get_quantiles(list(ranks))]

    def rank(self, value: float, *, inclusive: bool = False) -> float:
        """Approximate fraction of values below ``value`` (or equal, when ``inclusive``)."""
        return float(self.sketch.get_rank(value, inclusive))

    def masses(self, split_points: Sequence[float], *, inclusive: bool = False) -> FloatArray:
        """Approximate fraction of values in each interval cut by ``split_points``.

        ``split_points`` must increase strictly; the result has one more entry than them,
        the first and last covering everything below and above.
        """
        if not split_points:
            return np.ones(1)
        cdf = np.asarray(self.sketch.get_cdf(list(split_points), inclusive), dtype=np.float64)
        return np.diff(cdf, prepend=0.0).clip(min=0.0)

    def histogram(self, bins: int = 10) -> Histogram:
        """Equal-width histogram between min and max, derived from the quantile sketch."""
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        edges = np.unique(np.linspace(self.min, self.max, bins + 1))
        if edges.size < 2:
            return Histogram(edges=[self.min, self.max], counts=[float(self.count)])
        counts = self.masses(edges[1:-1].tolist()) * self.count
        return Histogram(edges=edges.tolist(), counts=counts.tolist())

    def __reduce__(self) -> tuple[Any, ...]:
        # The sketch is a native object: it travels (to a Dask worker and back) as bytes.
        fields = (self.count, self.mean, self.m2, self.min, self.max)
        return (_numeric_summary, (*fields, self.sketch.serialize()))

    def merge(self, other: NumericSummary) -> NumericSummary:
        """Summary of both inputs' values; neither input changes."""
        count = self.count + other.count
        delta = other.mean - self.mean
        with np.errstate(over="ignore", invalid="ignore"):
            mean = self.mean + delta * (other.count / count)
            m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / count)
        sketch = kll_doubles_sketch(max(self.sketch.k, other.sketch.k))
        sketch.merge(self.sketch)
        sketch.merge(other.sketch)
        return NumericSummary(
            count=count,
            mean=float(mean),
            m2=float(m2),
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            sketch=sketch,
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """Frequent values of a text or bool column, from a frequent-items sketch."""

    sketch: Any  # datasketches.frequent_strings_sketch

    @property
    def total(self) -> int:
        """Number of values summarised."""
        return int(self.sketch.total_weight)

    @property
    def is_exact(self) -> bool:
        """Whether every distinct value is tracked with its exact count."""
        return all(lower == upper for _, _, lower, upper in self._items())

    def value_counts(self) -> dict[str, int]:
        """Estimated count of every tracked value, most frequent first."""
        return {value: int(estimate) for value, estimate, _, _ in self._items()}

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most frequent values with their estimated counts."""
        return list(self.value_counts().items())[:n]

    def count(self, value: str) -> int:
        """Estimated count of ``value`` (0 when never seen)."""
        return int(self.sketch.get_estimate(value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_categorical_summary, (self.sketch.serialize(),))

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        """Summary of both inputs' values; neither input changes."""
        sketch = copy_frequencies(self.sketch)
        sketch.merge(other.sketch)
        return CategoricalSummary(sketch)

    def _items(self) -> list[tuple[str, int, int, int]]:
        items = self.sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        # Ties are broken by value so that results do not depend on insertion order.
        return sorted(items, key=lambda item: (-item[1], item[0]))


Summary = TypeVar("Summary", NumericSummary, CategoricalSummary)


def merge_optional(left: Summary | None, right: Summary | None) -> Summary | None:
    if left is None:
        return right
    if right is None:
        return left
    return left.merge(right)


def copy_frequencies(sketch: Any) -> Any:
    return frequent_strings_sketch.deserialize(sketch.serialize())


def _numeric_summary(
    count: int, mean: float, m2: float, low: float, high: float, sketch: bytes
) -> NumericSummary:
    return NumericSummary(count, mean, m2, low, high, kll_doubles_sketch.deserialize(sketch))


def _categorical_summary(sketch: bytes) -> CategoricalSummary:
    return CategoricalSummary(frequent_strings_sketch.deserialize(sketch))
