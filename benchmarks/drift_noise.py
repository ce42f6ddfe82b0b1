"""How often does drift flag two samples of one distribution, and does it catch real shifts?

First the noise bound alone: multinomial samples of sizes n and m from one distribution,
the share whose Jensen-Shannon distance exceeds the plain chi-squared bound and the
bound :func:`~shipyard.data.drift.noise_threshold` uses (with its sparse-bin correction);
both should be near ``1 - confidence`` = 0.1% or below.  Then the whole path, from
columns through ``compute_statistics`` to ``column_drift``: how many seeds are flagged
with no change, and with a +0.5 std mean shift, a doubled scale and three of thirty
values made four times as frequent.

    python benchmarks/drift_noise.py            # about a minute
    python benchmarks/drift_noise.py --reps 5000
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from shipyard.data.drift import (
    DEFAULT_DRIFT_CONFIDENCE,
    DEFAULT_DRIFT_THRESHOLD,
    column_drift,
    noise_threshold,
)
from shipyard.data.statistics import ColumnStatistics, compute_statistics

DISTRIBUTIONS = {
    "uniform 12": np.full(12, 1 / 12),
    "uniform 30": np.full(30, 1 / 30),
    "uniform 100": np.full(100, 1 / 100),
    "3 x 20% + 27 rare": np.r_[np.full(3, 0.2), np.full(27, 0.4 / 27)],
    "zipf 100": (1 / np.arange(1, 101)) / (1 / np.arange(1, 101)).sum(),
    "zipf 300": (1 / np.arange(1, 301)) / (1 / np.arange(1, 301)).sum(),
    "90/10": np.array([0.9, 0.1]),
    "50/49 + 10 x 0.1%": np.r_[0.5, 0.49, np.full(10, 0.001)],
}
SIZES = [
    (100, 100),
    (100, 100_000),
    (200, 100_000),
    (500, 100_000),
    (1_000, 100_000),
    (5_000, 100_000),
]


def _distances(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    mixture = (a + b) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(a > 0, a * np.log2(a / mixture), 0.0).sum(axis=1)
        right = np.where(b > 0, b * np.log2(b / mixture), 0.0).sum(axis=1)
    return np.sqrt(np.clip((left + right) / 2, 0.0, 1.0))


def noise_bound_false_alarms(reps: int) -> None:
    rng = np.random.default_rng(0)
    confidence = DEFAULT_DRIFT_CONFIDENCE
    print(f"false alarms of the noise bound alone ({reps:,} pairs each; target 0.1%)")
    print(
        f"{'distribution':20s} {'n':>6s} {'m':>8s} {'plain chi2':>11s} {'corrected':>10s} "
        f"{'with floor':>10s}"
    )
    for name, shares in DISTRIBUTIONS.items():
        for n, m in SIZES:
            a = rng.multinomial(n, shares, size=reps) / n
            b = rng.multinomial(m, shares, size=reps) / m
            distance = _distances(a, b)
            bins = ((a + b) > 0).sum(axis=1)
            plain = np.sqrt(
                (1 / n + 1 / m) * chi2.ppf(confidence, np.maximum(bins - 1, 1)) / (8 * math.log(2))
            )
            corrected = np.array([noise_threshold(n, m, k, confidence=confidence) for k in bins])
            floored = np.maximum(corrected, DEFAULT_DRIFT_THRESHOLD)
            print(
                f"{name:20s} {n:6d} {m:8d} {(distance > plain).mean():11.2%} "
                f"{(distance > corrected).mean():10.2%} {(distance > floored).mean():10.2%}"
            )


def _column(values: Any) -> ColumnStatistics:
    return compute_statistics(pd.DataFrame({"x": values}))["x"]


def _categories(rng: np.random.Generator, size: int, boost: float = 1.0) -> Any:
    shares = np.ones(30)
    shares[:3] *= boost
    return rng.choice([f"v{i:02d}" for i in range(30)], size, p=shares / shares.sum())


Draw = Callable[[np.random.Generator, int], Any]
CASES: dict[str, tuple[Draw, Draw]] = {
    "normal, unchanged": (lambda r, s: r.normal(size=s), lambda r, s: r.normal(size=s)),
    "normal, mean +0.5 std": (lambda r, s: r.normal(size=s), lambda r, s: r.normal(0.5, 1, s)),
    "normal, scale x2": (lambda r, s: r.normal(size=s), lambda r, s: r.normal(0, 2, s)),
    "poisson(3), unchanged": (lambda r, s: r.poisson(3, s), lambda r, s: r.poisson(3, s)),
    "30 values, unchanged": (_categories, _categories),
    "30 values, 3 made x4": (_categories, lambda r, s: _categories(r, s, boost=4.0)),
}


def whole_path(seeds: int) -> None:
    print(f"\ncolumn_drift on statistics ({seeds} seeds; reference of 50,000 values)")
    print(f"{'case':24s} {'n':>7s} {'flagged':>8s} {'values':>13s} {'threshold':>10s}")
    for name, (before, after) in CASES.items():
        for n in (200, 1_000, 5_000):
            results = []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                results.append(column_drift(_column(before(rng, 50_000)), _column(after(rng, n))))
            values = [r.value for r in results if r.value is not None]
            print(
                f"{name:24s} {n:7,d} {sum(r.drifted for r in results):4d}/{seeds:<3d} "
                f"{min(values):6.3f}-{max(values):.3f} "
                f"{np.mean([r.threshold for r in results]):10.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20_000, help="sample pairs per case")
    parser.add_argument("--seeds", type=int, default=20, help="seeds per whole-path case")
    options = parser.parse_args()
    noise_bound_false_alarms(options.reps)
    whole_path(options.seeds)


if __name__ == "__main__":
    main()
