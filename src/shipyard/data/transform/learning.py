"""Learning a ``FittedTransform`` from a training frame.

>>> import pandas as pd
>>> frame = pd.DataFrame({"area": [50.0, 70.0, None], "city": ["a", "b", "a"]})
>>> learn_transform(frame).medians
{'area': 60.0}
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.data.statistics.sketches import NumericSummary, merge_optional
from shipyard.data.transform.columns import check_column_names, choose_columns, require_frame
from shipyard.data.transform.derive import apply_derive, load_derive
from shipyard.data.transform.fitted import FittedTransform
from shipyard.data.transform.spec import TransformSpec
from shipyard.data.transform.values import factorize_categories, numeric_values
from shipyard.errors import DataError

__all__ = ["TransformLearner", "TransformSummary", "learn_transform"]

SUMMARY_K = 2000
"""Size of a partition's quantile sketch: medians within about 0.2% of rank."""


class TransformLearner:
    """Learns a ``FittedTransform`` from a training frame; the constructor only stores."""

    def __init__(self, spec: TransformSpec | None = None) -> None:
        self.spec = spec if spec is not None else TransformSpec()

    def fit(self, frame: pd.DataFrame) -> FittedTransform:
        """Learn imputation values, scales and vocabularies from ``frame`` (training only)."""
        source, numeric, categorical, input_columns = self._columns(frame)
        medians: dict[str, float] = {}
        means: dict[str, float] = {}
        scales: dict[str, float] = {}
        for column in numeric:
            values = numeric_values(source[column], column)
            medians[column], means[column], scales[column] = _numeric_statistics(values, column)
        vocabularies = {
            column: _top_keys(_category_counts(source[column], column), self.spec.max_categories)
            for column in categorical
        }
        return self._fitted(
            input_columns, numeric, categorical, medians, means, scales, vocabularies
        )

    def summarise(self, frame: pd.DataFrame) -> TransformSummary:
        """What ``frame`` — a partition of the training rows — tells the transform.

        Summaries of the partitions merge, and :meth:`fit_summary` learns from the total:
        the table never has to fit in memory."""
        source, numeric, categorical, input_columns = self._columns(frame)
        return TransformSummary(
            input_columns=input_columns,
            numeric={
                column: NumericSummary.of(
                    _observed(numeric_values(source[column], column)), quantile_k=SUMMARY_K
                )
                for column in numeric
            },
            counts={column: _category_counts(source[column], column) for column in categorical},
        )

    def fit_summary(self, summary: TransformSummary) -> FittedTransform:
        """Learn from the merged summaries of every partition of the training rows.

        Means, scales and vocabularies are those :meth:`fit` learns from the whole table
        (up to floating-point rounding); a median is read from a quantile sketch, within
        about 0.2% of the values' rank of the exact one."""
        medians: dict[str, float] = {}
        means: dict[str, float] = {}
        scales: dict[str, float] = {}
        for column, numbers in summary.numeric.items():
            if numbers is None:  # nothing to learn from: impute zero, leave unscaled
                medians[column], means[column], scales[column] = 0.0, 0.0, 1.0
                continue
            _check_scalable(numbers.mean, numbers.std, column)
            medians[column], means[column] = numbers.quantile(0.5), numbers.mean
            scales[column] = numbers.std if numbers.std > 0.0 else 1.0
        vocabularies = {
            column: _top_keys(counts, self.spec.max_categories)
            for column, counts in summary.counts.items()
        }
        numeric, categorical = tuple(summary.numeric), tuple(summary.counts)
        return self._fitted(
            summary.input_columns, numeric, categorical, medians, means, scales, vocabularies
        )

    def _columns(
        self, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The frame to learn from (with derived columns), its numeric and categorical
        columns, and the columns the transform reads."""
        spec = self.spec
        require_frame(frame)
        if len(frame) == 0:
            raise DataError("cannot fit a transform on an empty frame")
        source = frame
        if spec.derive is not None:
            check_column_names(frame)
            source = apply_derive(load_derive(spec.derive), spec.derive, frame)
        numeric, categorical = choose_columns(source, spec)
        if spec.derive is not None:
            dropped = set(spec.drop)
            input_columns = tuple(c for c in frame.columns if c not in dropped)
        else:
            input_columns = numeric + categorical
        return source, numeric, categorical, input_columns

    def _fitted(
        self,
        input_columns: tuple[str, ...],
        numeric: tuple[str, ...],
        categorical: tuple[str, ...],
        medians: dict[str, float],
        means: dict[str, float],
        scales: dict[str, float],
        vocabularies: dict[str, tuple[str, ...]],
    ) -> FittedTransform:
        return FittedTransform(
            spec=self.spec,
            input_columns=input_columns,
            numeric_columns=numeric,
            categorical_columns=categorical,
            medians=medians,
            means=means,
            scales=scales,
            vocabularies=vocabularies,
        )


@dataclass(frozen=True)
class TransformSummary:
    """Mergeable summary of training rows: moments and a quantile sketch of each numeric
    column, the count of each key of each categorical one."""

    input_columns: tuple[str, ...]
    numeric: dict[str, NumericSummary | None]
    counts: dict[str, Counter[str]]

    def merge(self, other: TransformSummary) -> TransformSummary:
        """Summary of both inputs' rows; neither input changes."""
        if (tuple(self.numeric), tuple(self.counts)) != (tuple(other.numeric), tuple(other.counts)):
            raise DataError("cannot merge summaries of partitions with different columns")
        return TransformSummary(
            input_columns=self.input_columns,
            numeric={
                column: merge_optional(summary, other.numeric[column])
                for column, summary in self.numeric.items()
            },
            counts={
                column: counts + other.counts[column] for column, counts in self.counts.items()
            },
        )


def learn_transform(frame: pd.DataFrame, spec: TransformSpec | None = None) -> FittedTransform:
    """Learn the transform ``spec`` describes from the training ``frame``.

    Shorthand for ``TransformLearner(spec).fit(frame)``.
    """
    return TransformLearner(spec).fit(frame)


def _observed(values: np.ndarray) -> np.ndarray:
    observed: np.ndarray = values[~np.isnan(values)]
    return observed


def _numeric_statistics(values: np.ndarray, column: str) -> tuple[float, float, float]:
    """Median, mean and scale of the observed values (NaN is missing)."""
    observed = _observed(values)
    if observed.size == 0:  # nothing to learn from: impute zero, leave unscaled
        return 0.0, 0.0, 1.0
    mean, std = float(observed.mean()), float(observed.std())
    _check_scalable(mean, std, column)
    return float(np.median(observed)), mean, std if std > 0.0 else 1.0


def _check_scalable(mean: float, std: float, column: str) -> None:
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DataError(f"column {column!r} holds values too large to scale")


def _category_counts(series: pd.Series, column: str) -> Counter[str]:
    """How often each key of a categorical column occurs (missing cells are not counted)."""
    keys, codes = factorize_categories(series, column)
    counts: Counter[str] = Counter()
    present = np.bincount(codes[codes >= 0], minlength=len(keys)).tolist()
    for key, count in zip(keys, present, strict=True):
        if key is not None:
            counts[key] += count
    return counts


def _top_keys(counts: Counter[str], max_categories: int) -> tuple[str, ...]:
    """The ``max_categories`` most frequent keys (ties broken by the key), sorted."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(sorted(key for key, _ in ranked[:max_categories]))
