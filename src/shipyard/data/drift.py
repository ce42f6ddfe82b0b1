"""Drift between two sets of statistics, judged against what sampling alone would give.

Every column is compared by the Jensen-Shannon distance (base 2, in [0, 1]) of two
distributions over common bins.  Numeric columns are cut at the deciles of the reference
(from its quantile sketch) plus one bin below and one above its range, so values outside
it count.  Text and bool columns use their value frequencies over the union of values
seen on either side (a value the reference never saw has mass 0 there); values the
frequent-items sketch stopped tracking share one "other" bin.  One measure for both kinds
means one threshold means the same thing everywhere: the L-infinity distance used before
for categories missed spread-out shifts (30 values, the first 3 made four times as
frequent, moves no single share by 0.1).  Values the reference never saw weigh heavily:
a share s of them alone is a distance of about sqrt(s / 2), so 2% of new values reach 0.1.

Why not a p-value test (Kolmogorov-Smirnov, chi-squared) as other drift tools do: at a
million rows it flags shifts too small to matter, and at a hundred it flags nothing.  Why
not a fixed distance threshold alone: two samples of one distribution are themselves
apart, by more than 0.1 at a few hundred values.  So a column drifts when its distance
exceeds ``max(floor, noise)``: ``floor`` is the effect size worth a look (0.1 unless
configured) and ``noise`` (:func:`noise_threshold`) the distance two samples of these
sizes reach by chance with probability ``confidence`` (0.999).  Large samples are held
to the effect size, small ones to their noise; below ``min_count`` present values (100)
the result says "not enough data" rather than guess.

The noise bound: the Jensen-Shannon divergence (nats) of two samples of sizes n and m
from one distribution over k bins is, to second order, ``(1/n + 1/m) * X / 8`` with X
chi-squared on k - 1 degrees of freedom.  Simulated with multinomial samples
(``benchmarks/drift_noise.py``: 20,000 pairs per case; uniform, skewed and Zipf
distributions on 2 to 300 bins, n from 100 to 5,000, m = n or 100,000), the plain bound
keeps its 0.1% of false alarms when the smaller sample puts tens of values in every bin,
but not with sparse bins: 1.6% at 30 uniform bins and n = 100, 15% at 100 bins and
n = 200, 42% for a Zipf law on 300 values at n = 1,000.  The neglected higher-order terms
are positive and grow like k / min(n, m), so the chi-squared quantile is multiplied by
``1 + 2 (k - 1) / min(n, m)``: then no case exceeded 0.15% but three, 0.21% and 0.17% for
a 90/10 split at n = 100 and 200, and 0.4% for ten values of 0.1% each beside two common
ones at n = 5,000 (five expected per rare bin; the bound knows k, not the shares).  At
that size the floor, not the noise, sets the threshold, and with it no false alarm was
raised.  The price is power with many sparse bins: a few hundred values spread over a
hundred categories can only show large shifts.  The quantile sketch's own rank error
(about 1.7% at the default size) adds a distance of a few hundredths between large
samples (0.03 at a million values each), well under the floor.

Only statistics are needed, never the rows, so the same functions compare a dataset with
the previous version and a window of the prediction log with the training data.

>>> import numpy as np, pandas as pd
>>> from shipyard.data.statistics import compute_statistics
>>> rng = np.random.default_rng(0)
>>> before = compute_statistics(pd.DataFrame({"c": rng.choice(["a", "b"], 1000)}))
>>> after = compute_statistics(pd.DataFrame({"c": rng.choice(["a", "b"], 1000, p=[0.9, 0.1])}))
>>> result = column_drift(before["c"], after["c"])
>>> result.status, round(result.value, 2), round(result.threshold, 2)
('drifted', 0.43, 0.1)
>>> column_drift(before["c"], after["c"], min_count=5_000).status
'not enough data'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from shipyard.data.statistics import ColumnStatistics, DatasetStatistics
from shipyard.errors import DataError, SchemaMismatch

__all__ = [
    "DEFAULT_DRIFT_BINS",
    "DEFAULT_DRIFT_CONFIDENCE",
    "DEFAULT_DRIFT_THRESHOLD",
    "DEFAULT_MIN_COUNT",
    "DriftMetric",
    "DriftResult",
    "DriftStatus",
    "column_drift",
    "dataset_drift",
    "jensen_shannon_distance",
    "noise_threshold",
]

#: "linf" is only read from results stored before every column used Jensen-Shannon.
DriftMetric = Literal["jensen_shannon", "linf"]
DRIFT_METRICS: tuple[DriftMetric, ...] = get_args(DriftMetric)
DriftStatus = Literal["drifted", "stable", "not enough data"]
DRIFT_STATUSES: tuple[DriftStatus, ...] = get_args(DriftStatus)

#: Distance a column must move before it counts as drifted, however large the samples.
DEFAULT_DRIFT_THRESHOLD = 0.1
#: Number of quantile bins numeric columns are compared on.
DEFAULT_DRIFT_BINS = 10
#: Probability that two samples of one distribution stay under the noise threshold.
DEFAULT_DRIFT_CONFIDENCE = 0.999
#: Fewest present values in the current column for a verdict.
DEFAULT_MIN_COUNT = 100

# Multiplier, per bin over the smaller sample's size, of the higher-order correction to
# the chi-squared approximation (see the module notes for the simulation behind it).
_SPARSE_BIN_FACTOR = 2.0


@dataclass(frozen=True)
class DriftResult:
    """How far one column moved between a reference and a current dataset.

    ``value`` is None when there was not enough data to measure; ``threshold`` is the
    larger of the configured floor and the sampling noise at these counts.  ``count``
    and ``reference_count`` are the present values compared (0 in results stored before
    they were recorded).
    """

    column: str
    metric: DriftMetric
    value: float | None
    threshold: float
    drifted: bool
    count: int
    reference_count: int
    status: DriftStatus

    def __post_init__(self) -> None:
        if self.status not in DRIFT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(DRIFT_STATUSES)}")
        if self.drifted != (self.status == "drifted"):
            raise ValueError(f"drifted={self.drifted} contradicts status {self.status!r}")
        if (self.value is None) != (self.status == "not enough data"):
            raise ValueError(f"value {self.value} contradicts status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftResult:
        """Read what :meth:`to_dict` wrote, or an older record; ``DataError`` if bad."""
        try:
            metric = data["metric"]
            if metric not in DRIFT_METRICS:
                raise ValueError(f"metric must be one of {', '.join(DRIFT_METRICS)}")
            value = data["value"]
            drifted = bool(data["drifted"])
            status = data.get("status")
            if status is None:  # written before statuses existed: always measured
                status = "drifted" if drifted else "stable"
            if status not in DRIFT_STATUSES:
                raise ValueError(f"status must be one of {', '.join(DRIFT_STATUSES)}")
            return cls(
                column=str(data["column"]),
                metric=metric,
                value=None if value is None else float(value),
                threshold=float(data["threshold"]),
                drifted=drifted,
                count=int(data.get("count", 0)),
                reference_count=int(data.get("reference_count", 0)),
                status=status,
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


def noise_threshold(n: int, m: int, bins: int, *, confidence: float) -> float:
    """Jensen-Shannon distance that samples of ``n`` and ``m`` values of one distribution
    over ``bins`` occupied bins stay under with probability ``confidence``.

    ``sqrt((1/n + 1/m) * chi2(confidence, bins - 1) * (1 + 2 (bins - 1) / min(n, m))
    / (8 ln 2))``, at most 1; the module notes say where it comes from and how it was
    checked.

    >>> round(noise_threshold(200, 10_000, 12, confidence=0.999), 3)
    0.179
    >>> round(noise_threshold(1_000_000, 1_000_000, 12, confidence=0.999), 4)
    0.0034
    """
    if n < 1 or m < 1:
        raise ValueError(f"sample sizes must be at least 1, got n={n} and m={m}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if bins == 1:
        return 0.0  # one bin: every sample has the same distribution
    degrees = bins - 1
    sparse = 1.0 + _SPARSE_BIN_FACTOR * degrees / min(n, m)
    divergence = (1 / n + 1 / m) * _chi2_quantile(confidence, degrees) * sparse / 8
    return min(1.0, math.sqrt(divergence / math.log(2)))


def column_drift(
    reference: ColumnStatistics,
    current: ColumnStatistics,
    *,
    threshold: float | None = None,
    bins: int = DEFAULT_DRIFT_BINS,
    confidence: float = DEFAULT_DRIFT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
) -> DriftResult:
    """Drift of one column: drifted when the distance exceeds ``max(threshold, noise)``.

    ``threshold`` (the floor) defaults to :data:`DEFAULT_DRIFT_THRESHOLD`.  Fewer than
    ``min_count`` present values in ``current``, or none in ``reference``, give status
    "not enough data".  Raises ``SchemaMismatch`` when one column is numeric and the
    other is not.
    """
    if reference.is_numeric != current.is_numeric:
        raise SchemaMismatch(
            f"column {current.name!r} cannot be compared for drift: it is {current.type} "
            f"but the reference is {reference.type}",
            column=current.name,
        )
    floor = DEFAULT_DRIFT_THRESHOLD if threshold is None else threshold
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"the drift threshold must lie in [0, 1], got {floor}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    n, m = current.present, reference.present
    if n < max(min_count, 1) or m == 0:
        return DriftResult(
            column=current.name,
            metric="jensen_shannon",
            value=None,
            threshold=floor,
            drifted=False,
            count=n,
            reference_count=m,
            status="not enough data",
        )
    if reference.is_numeric:
        left, right = _numeric_masses(reference, current, bins)
    else:
        left, right = _categorical_masses(reference, current)
    value = jensen_shannon_distance(left, right)
    occupied = int(np.count_nonzero((left + right) > 0))
    limit = max(floor, noise_threshold(n, m, occupied, confidence=confidence))
    drifted = value > limit
    return DriftResult(
        column=current.name,
        metric="jensen_shannon",
        value=value,
        threshold=limit,
        drifted=drifted,
        count=n,
        reference_count=m,
        status="drifted" if drifted else "stable",
    )


def dataset_drift(
    reference: DatasetStatistics,
    current: DatasetStatistics,
    thresholds: float | Mapping[str, float] | None = None,
    *,
    bins: int = DEFAULT_DRIFT_BINS,
    confidence: float = DEFAULT_DRIFT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
) -> list[DriftResult]:
    """Drift of every column the two datasets share, in the reference's column order.

    ``thresholds`` is one floor for every column or a map from column name to floor;
    columns it does not name use :data:`DEFAULT_DRIFT_THRESHOLD`.  Columns absent from
    ``current`` or numeric on one side only are left out (validation reports those as
    missing columns or type changes); columns with too few values are listed as "not
    enough data".
    """
    results = []
    for column in reference:
        if column.name not in current:
            continue
        other = current[column.name]
        if column.is_numeric != other.is_numeric:
            continue
        threshold = thresholds.get(column.name) if isinstance(thresholds, Mapping) else thresholds
        results.append(
            column_drift(
                column,
                other,
                threshold=threshold,
                bins=bins,
                confidence=confidence,
                min_count=min_count,
            )
        )
    return results


@lru_cache(maxsize=256)
def _chi2_quantile(probability: float, degrees: int) -> float:
    # The inverse survival function of scipy.special imports in a third of the time
    # scipy.stats takes; only a drift check pays for it.
    from scipy.special import chdtri

    return float(chdtri(degrees, 1.0 - probability))


def _numeric_masses(
    reference: ColumnStatistics, current: ColumnStatistics, bins: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Masses of both columns on bins cut at the reference's quantiles."""
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


def _categorical_masses(
    reference: ColumnStatistics, current: ColumnStatistics
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Counts of both columns over the union of their values, and a bin for the rest.

    The last bin holds what the frequent-items sketch no longer tracks by value (zero
    while a column has fewer distinct values than the sketch holds).
    """
    assert reference.categorical is not None and current.categorical is not None
    left, right = reference.categorical.value_counts(), current.categorical.value_counts()
    values = sorted(left.keys() | right.keys())
    masses = []
    for counts, total in ((left, reference.categorical.total), (right, current.categorical.total)):
        tracked = [float(counts.get(value, 0)) for value in values]
        masses.append(np.array([*tracked, max(total - sum(tracked), 0.0)], dtype=np.float64))
    return masses[0], masses[1]


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
