"""Model quality metrics, and which direction is better for each.

Regression: ``rmse``, ``mae``, ``r2``, ``mape``.  Classification: ``accuracy``, ``f1``
(binary; macro average for several classes), ``roc_auc`` (one-vs-rest for several
classes), ``log_loss`` and ``calibration_error`` (expected calibration error of the
predicted class's probability, 10 equal-width bins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm

from shipyard.config import Task

__all__ = [
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "answer_metrics",
    "calibration_error",
    "classification_metrics",
    "confidence_calibration_error",
    "regression_metrics",
    "task_metrics",
]

# The confidence model's metrics (``shipyard.modeling.confidence``) with a direction, so
# that a change threshold may be set on them too.
LOWER_IS_BETTER = frozenset(
    {
        "rmse",
        "mae",
        "mape",
        "log_loss",
        "calibration_error",
        "calibration_error_before",
        "calibration_error_after",
        "mean_interval_width",
    }
)
HIGHER_IS_BETTER = frozenset({"r2", "accuracy", "f1", "roc_auc", "expected_auto_share"})


def regression_metrics(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, float]:
    y = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    result = {
        "rmse": float(math.sqrt(skm.mean_squared_error(y, p))),
        "mae": float(skm.mean_absolute_error(y, p)),
        "mape": float(skm.mean_absolute_percentage_error(y, p)),
    }
    # R² is undefined on fewer than two rows or a constant truth.
    if len(y) >= 2 and float(np.var(y)) > 0:
        result["r2"] = float(skm.r2_score(y, p))
    return result


def calibration_error(
    truth: npt.ArrayLike,
    probabilities: npt.NDArray[np.float64],
    classes: Sequence[Any],
    bins: int = 10,
) -> float:
    """Expected calibration error of the top predicted class's probability."""
    y = _labels(truth)
    chosen = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    correct = (chosen == y.astype(object)).astype(np.float64)
    return confidence_calibration_error(probabilities.max(axis=1), correct, bins=bins)


def confidence_calibration_error(
    confidence: npt.NDArray[np.float64], correct: npt.NDArray[np.float64], bins: int = 10
) -> float:
    """Expected calibration error of confidences against whether each answer was right
    (1.0) or wrong (0.0): the row-weighted gap between them in equal-width bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def _labels(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """Labels as numpy infers them (ints stay ints): sklearn rejects object-typed ints."""
    array = np.asarray(values)
    return np.asarray(array.tolist()) if array.dtype == object else array


def classification_metrics(
    truth: npt.ArrayLike,
    predicted: npt.ArrayLike,
    probabilities: npt.NDArray[np.float64],
    classes: Sequence[Any],
) -> dict[str, float]:
    y = _labels(truth)
    p = _labels(predicted)
    labels = list(classes)
    binary = len(labels) == 2
    result = {
        "accuracy": float(skm.accuracy_score(y, p)),
        "f1": float(
            skm.f1_score(
                y,
                p,
                average="binary" if binary else "macro",
                pos_label=labels[-1],
                labels=labels,
                zero_division=0,
            )
        ),
        "log_loss": float(skm.log_loss(y, np.clip(probabilities, 1e-15, 1.0), labels=labels)),
        "calibration_error": calibration_error(y, probabilities, labels),
    }
    present = set(y.tolist())
    # ROC AUC needs every class present in the truth (both, for a binary task).
    if len(present) == len(labels):
        if binary:
            result["roc_auc"] = float(skm.roc_auc_score(y == labels[1], probabilities[:, 1]))
        else:
            result["roc_auc"] = float(
                skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=labels)
            )
    return result


def answer_metrics(task: Task, truth: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, float]:
    """Metrics of answers alone, without probabilities: what a prediction log holds for
    every arm of a deployment.  Regression: ``rmse`` and ``mae``; classification:
    ``accuracy`` and ``f1`` (macro average over the classes seen in the truth or the
    answers, so that it needs no positive class and treats both arms alike)."""
    if task == "regression":
        found = regression_metrics(truth, predicted)
        return {"rmse": found["rmse"], "mae": found["mae"]}
    y = _labels(truth)
    p = _labels(predicted)
    return {
        "accuracy": float(skm.accuracy_score(y, p)),
        "f1": float(skm.f1_score(y, p, average="macro", zero_division=0)),
    }


def task_metrics(
    task: Task,
    truth: npt.ArrayLike,
    predicted: npt.ArrayLike,
    probabilities: npt.NDArray[np.float64] | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """The metrics of ``task``."""
    if task == "regression":
        return regression_metrics(truth, predicted)
    assert probabilities is not None and classes is not None
    return classification_metrics(truth, predicted, probabilities, classes)
