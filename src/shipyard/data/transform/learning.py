"""Learning a ``FittedTransform`` from a training frame.

>>> import pandas as pd
>>> frame = pd.DataFrame({"area": [50.0, 70.0, None], "city": ["a", "b", "a"]})
>>> learn_transform(frame).medians
{'area': 60.0}
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from shipyard.data.transform.columns import check_column_names, choose_columns, require_frame
from shipyard.data.transform.derive import apply_derive, load_derive
from shipyard.data.transform.fitted import FittedTransform
from shipyard.data.transform.spec import TransformSpec
from shipyard.data.transform.values import factorize_categories, numeric_values
from shipyard.errors import DataError

__all__ = ["TransformLearner", "learn_transform"]


class TransformLearner:
    """Learns a ``FittedTransform`` from a training frame; the constructor only stores."""

    def __init__(self, spec: TransformSpec | None = None) -> None:
        self.spec = spec if spec is not None else TransformSpec()

    def fit(self, frame: pd.DataFrame) -> FittedTransform:
        """Learn imputation values, scales and vocabularies from ``frame`` (training only)."""
        spec = self.spec
        require_frame(frame)
        if len(frame) == 0:
            raise DataError("cannot fit a transform on an empty frame")
        source = frame
        if spec.derive is not None:
            check_column_names(frame)
            source = apply_derive(load_derive(spec.derive), spec.derive, frame)
        numeric, categorical = choose_columns(source, spec)
        medians: dict[str, float] = {}
        means: dict[str, float] = {}
        scales: dict[str, float] = {}
        for column in numeric:
            values = numeric_values(source[column], column)
            medians[column], means[column], scales[column] = _numeric_statistics(values, column)
        vocabularies = {
            column: _vocabulary(source[column], column, spec.max_categories)
            for column in categorical
        }
        if spec.derive is not None:
            dropped = set(spec.drop)
            input_columns = tuple(c for c in frame.columns if c not in dropped)
        else:
            input_columns = numeric + categorical
        return FittedTransform(
            spec=spec,
            input_columns=input_columns,
            numeric_columns=numeric,
            categorical_columns=categorical,
            medians=medians,
            means=means,
            scales=scales,
            vocabularies=vocabularies,
        )


def learn_transform(frame: pd.DataFrame, spec: TransformSpec | None = None) -> FittedTransform:
    """Learn the transform ``spec`` describes from the training ``frame``.

    Shorthand for ``TransformLearner(spec).fit(frame)``.
    """
    return TransformLearner(spec).fit(frame)


def _numeric_statistics(values: np.ndarray, column: str) -> tuple[float, float, float]:
    """Median, mean and scale of the observed values (NaN is missing)."""
    observed = values[~np.isnan(values)]
    if observed.size == 0:  # nothing to learn from: impute zero, leave unscaled
        return 0.0, 0.0, 1.0
    mean, std = float(observed.mean()), float(observed.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DataError(f"column {column!r} holds values too large to scale")
    return float(np.median(observed)), mean, std if std > 0.0 else 1.0


def _vocabulary(series: pd.Series, column: str, max_categories: int) -> tuple[str, ...]:
    """The ``max_categories`` most frequent keys (ties broken by the key), sorted."""
    keys, codes = factorize_categories(series, column)
    counts: Counter[str] = Counter()
    present = np.bincount(codes[codes >= 0], minlength=len(keys)).tolist()
    for key, count in zip(keys, present, strict=True):
        if key is not None:
            counts[key] += count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(sorted(key for key, _ in ranked[:max_categories]))
