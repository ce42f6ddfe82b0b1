"""Drift between two sets of statistics.

Numeric columns are compared by the Jensen-Shannon distance (base 2, in [0, 1]) of their
distributions over common bins: the bin edges are quantiles of the reference column, and
both columns' masses come from their quantile sketches, plus one bin below and one above
the reference range so that values outside it count.  Text and bool columns are compared
by the L-infinity distance between their normalised value frequencies.

Only statistics are needed, never the rows, so the same functions compare a dataset with
the previous version and a window of the prediction log with the training data.

>>> import pandas as pd
>>> from shipyard.data.statistics import compute_statistics
>>> before = compute_statistics(pd.DataFrame({"c": ["a", "a", "b", "b"]}))
>>> after = compute_statistics(pd.DataFrame({"c": ["a", "b", "b", "b"]}))
>>> column_drift(before["c"], after["c"]).value
0.25
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from shipyard.data.statistics import ColumnStatistics, DatasetStatistics
from shipyard.errors import DataError, SchemaMismatch

__all__ = [
    "DEFAULT_DRIFT_BINS",
    "DEFAULT_DRIFT_THRESHOLDS",
    "DriftMetric",
    "DriftResult",
    "column_drift",
    "dataset_drift",
    "jensen_shannon_distance",
    "linf_distance",
]

DriftMetric = Literal["jensen_shannon", "linf"]
DRIFT_METRICS: tuple[DriftMetric, ...] = get_args(DriftMetric)

#: Threshold above which a column counts as drifted, per metric.
DEFAULT_DRIFT_THRESHOLDS: Mapping[DriftMetric, float] = {"jensen_shannon": 0.1, "linf": 0.1}
#: Number of quantile bins numeric columns are compared on.
DEFAULT_DRIFT_BINS = 10


@dataclass(frozen=True)
class DriftResult:
    """How far one column moved between a reference and a current dataset."""

    column: str
    metric: DriftMetric
    value: float
    threshold: float
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftResult:
        """Read what :meth:`to_dict` wrote; raise ``DataError`` on a bad record."""
        try:
            metric = data["metric"]
            if metric not in DRIFT_METRICS:
                raise ValueError(f"metric must be one of {', '.join(DRIFT_METRICS)}")
            return cls(
                column=str(data["column"]),
                metric=metric,
                value=float(data["value"]),
                threshold=float(data["threshold"]),
                drifted=bool(data["drifted"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"invalid drift result {dict(data)!r}: {exc}") from exc


def jensen_shannon_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two mass vectors.

    The vectors are normalised first; both must have positive total mass.

    >>> jensen_shannon_distance([1, 0], [0, 1])
    1.0
    """
    left, right = _distributions(p, q)
    divergence = (_kl_to_mixture_bits(left, right) + _kl_to_mixture_bits(right, left)) / 2
    return float(np.sqrt(np.clip(divergence, 0.0, 1.0)))


def linf_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Largest absolute difference between two frequency maps (absent keys count 0).

    >>> linf_distance({"a": 0.5, "b": 0.5}, {"a": 0.8, "c": 0.2})
    0.5
    """
    keys = p.keys() | q.keys()
    return max((abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in keys), default=0.0)


def column_drift(
    reference: ColumnStatistics,
    current: ColumnStatistics,
    *,
    threshold: float | None = None,
    bins: int = DEFAULT_DRIFT_BINS,
) -> DriftResult:
    """Drift of one column; ``threshold`` defaults to the metric's default.

    Raises ``SchemaMismatch`` when one column is numeric and the other is not, and
    ``DataError`` when either has no values to compare.
    """
    if reference.is_numeric != current.is_numeric:
        raise SchemaMismatch(
            f"column {current.name!r} cannot be compared for drift: it is {current.type} "
            f"but the reference is {reference.type}",
            column=current.name,
        )
    for side, column in (("reference", reference), ("current", current)):
        if column.present == 0:
            raise DataError(
                f"column {column.name!r} has no values in the {side} statistics to compare"
            )
    metric: DriftMetric
    if reference.is_numeric:
        metric = "jensen_shannon"
        value = jensen_shannon_distance(*_numeric_masses(reference, current, bins))
    else:
        metric = "linf"
        value = linf_distance(_frequencies(reference), _frequencies(current))
    limit = DEFAULT_DRIFT_THRESHOLDS[metric] if threshold is None else threshold
    return DriftResult(
        column=current.name, metric=metric, value=value, threshold=limit, drifted=value > limit
    )


def dataset_drift(
    reference: DatasetStatistics,
    current: DatasetStatistics,
    thresholds: float | Mapping[str, float] | None = None,
    *,
    bins: int = DEFAULT_DRIFT_BINS,
) -> list[DriftResult]:
    """Drift of every column the two datasets share, in the reference's column order.

    ``thresholds`` is one threshold for every column or a map from column name to
    threshold; columns it does not name use the metric's default.  Columns that cannot be
    compared (numeric on one side only, or without values) are left out: validation
    reports those as type changes or missing values.
    """
    results = []
    for column in reference:
        if column.name not in current:
            continue
        other = current[column.name]
        if column.is_numeric != other.is_numeric or not column.present or not other.present:
            continue
        threshold = thresholds.get(column.name) if isinstance(thresholds, Mapping) else thresholds
        results.append(column_drift(column, other, threshold=threshold, bins=bins))
    return results


def _numeric_masses(
    reference: ColumnStatistics, current: ColumnStatistics, bins: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Masses of both columns on bins cut at the reference's quantiles."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    assert reference.numeric is not None and current.numeric is not None
    inner = reference.numeric.quantiles(np.linspace(0.0, 1.0, bins + 1)[1:-1].tolist())
    # Intervals are (a, b]: below the reference minimum, then up to each quantile and the
    # maximum, then above it.  Repeated quantiles (discrete data) merge into one bin.
    below = np.nextafter(reference.numeric.min, -np.inf)
    points = np.unique([below, *inner, reference.numeric.max]).tolist()
    return (
        reference.numeric.masses(points, inclusive=True),
        current.numeric.masses(points, inclusive=True),
    )


def _frequencies(column: ColumnStatistics) -> dict[str, float]:
    """Share of the present values taken by each tracked value."""
    assert column.categorical is not None
    total = column.categorical.total
    return {value: count / total for value, count in column.categorical.value_counts().items()}


def _distributions(
    p: npt.ArrayLike, q: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    left = np.asarray(p, dtype=np.float64)
    right = np.asarray(q, dtype=np.float64)
    if left.shape != right.shape or left.ndim != 1:
        raise ValueError(
            f"mass vectors must be 1-d and of equal length, got {left.shape} and {right.shape}"
        )
    for masses in (left, right):
        if not np.isfinite(masses).all() or (masses < 0).any() or masses.sum() <= 0:
            raise ValueError("masses must be finite, non-negative and not all zero")
    return left / left.sum(), right / right.sum()


def _kl_to_mixture_bits(p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]) -> float:
    """Kullback-Leibler divergence, in bits, of ``p`` from the mixture ``(p + q) / 2``.

    Written as ``p * log2(2p / (p + q))``: the mixture itself can underflow to zero for
    subnormal masses, but ``p + q >= p > 0`` on the support never does.
    """
    support = p > 0
    mass = p[support]
    return float(np.sum(mass * np.log2(2 * mass / (mass + q[support]))))
