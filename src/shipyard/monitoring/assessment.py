"""What one window says against its version's reference: the result a window stores.

The result is plain JSON (``shipyard monitor --format json`` prints it, the report and
the server's gauges read it):

- ``features``: per feature ``{type, metric, score, threshold, drifted, status, count,
  reference_count}`` — ``score`` is null and ``status`` "not enough data" below the
  minimum count; ``drifted`` lists the drifted ones and ``drift_share`` their share of
  the features that had enough data;
- ``output``: the answers' drift against the eval split's answers, alike;
- ``skew``: the schema skew of the window (``shipyard.data.skew``);
- ``performance``: per metric ``{value, lower, upper, count}`` from the labels joined
  so far (null without labels), beside ``evaluation``, the version's evaluation metrics;
- ``estimated``: classifiers' label-free estimate from calibrated probabilities;
- ``latency``: p50 and p99 in milliseconds, and predictions per second.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.config import MonitoringSettings
from shipyard.data.drift import DriftResult, column_drift, dataset_drift
from shipyard.data.skew import schema_skew
from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.monitoring.performance import estimated_performance, realised_performance
from shipyard.monitoring.reference import OUTPUT, Reference, output_frame
from shipyard.prediction_log import inputs_frame

__all__ = ["WindowStatistics", "assess", "performance", "window_statistics"]

WindowStatistics = tuple[DatasetStatistics, DatasetStatistics]
"""A window's inputs' and answers' statistics."""


def window_statistics(rows: pd.DataFrame, reference: Reference) -> WindowStatistics:
    """The statistics of a window's inputs (the version's features) and answers."""
    inputs = inputs_frame(rows.reset_index(drop=True))
    present = [name for name in reference.features if name in inputs.columns]
    extra = [name for name in inputs.columns if name not in reference.features]
    inputs = inputs[present + extra]
    return (
        compute_statistics(inputs),
        compute_statistics(output_frame(rows["prediction"], reference.task)),
    )


def assess(
    rows: pd.DataFrame,
    statistics: WindowStatistics,
    reference: Reference,
    settings: MonitoringSettings,
    *,
    labels: pd.DataFrame,
) -> dict[str, Any]:
    """The result of a window: drift, skew, output drift, performance and latency.

    ``labels`` has ``prediction_id`` and ``label`` for the window's labelled rows.
    """
    inputs, outputs = statistics
    confidence, min_count = settings.drift_confidence, settings.min_count
    drift = dataset_drift(
        reference.train,
        inputs,
        settings.drift_threshold,
        confidence=confidence,
        min_count=min_count,
    )
    features = {result.column: _drift_dict(result, reference) for result in drift}
    judged = [r for r in drift if r.status != "not enough data"]
    drifted = sorted((r for r in judged if r.drifted), key=lambda r: -(r.value or 0.0))
    output = None
    if reference.outputs is not None and OUTPUT in outputs and outputs[OUTPUT].present:
        found = column_drift(
            reference.outputs[OUTPUT],
            outputs[OUTPUT],
            threshold=settings.drift_threshold,
            confidence=confidence,
            min_count=min_count,
        )
        output = _drift_dict(found, reference)
    latency = rows["latency_ms"].dropna()
    seconds = (rows["timestamp"].max() - rows["timestamp"].min()).total_seconds()
    return {
        "features": features,
        "drifted": [r.column for r in drifted],
        "drift_share": len(drifted) / len(judged) if judged else None,
        "output": output,
        "skew": schema_skew(reference.schema, inputs, reference=reference.train).to_dict(),
        "performance": performance(rows, labels, reference),
        "estimated": _estimate(rows, reference),
        "evaluation": reference.evaluation,
        "latency": {
            "p50_ms": float(latency.quantile(0.5)) if len(latency) else None,
            "p99_ms": float(latency.quantile(0.99)) if len(latency) else None,
            "per_second": len(rows) / seconds if seconds > 0 else None,
        },
    }


def performance(
    rows: pd.DataFrame, labels: pd.DataFrame, reference: Reference
) -> dict[str, Any] | None:
    """Realised metrics with intervals on the window's labelled rows (None: no labels)."""
    labelled = rows.merge(labels[["prediction_id", "label"]], on="prediction_id", how="inner")
    labelled = labelled[labelled["label"].notna()]
    if labelled.empty:
        return None
    probabilities = None
    classes = reference.classes
    truth: Any
    predicted: Any
    if reference.task == "classification" and classes is not None:
        probabilities = _probability_matrix(labelled["probabilities"], classes)
        truth = [_class_of(value, classes) for value in labelled["label"]]
        predicted = [_class_of(value, classes) for value in labelled["prediction"]]
    else:
        truth = pd.to_numeric(labelled["label"], errors="coerce").to_numpy(dtype=np.float64)
        predicted = pd.to_numeric(labelled["prediction"], errors="coerce").to_numpy(
            dtype=np.float64
        )
    metrics = realised_performance(
        reference.task, truth, predicted, probabilities=probabilities, classes=classes
    )
    return {name: interval.to_dict() for name, interval in metrics.items()}


def _estimate(rows: pd.DataFrame, reference: Reference) -> dict[str, float] | None:
    if reference.task != "classification" or not reference.classes:
        return None
    probabilities = _probability_matrix(rows["probabilities"], reference.classes)
    if probabilities is None:
        return None
    return estimated_performance(probabilities, reference.classes, confidence=reference.confidence)


def _probability_matrix(maps: pd.Series, classes: list[Any]) -> np.ndarray[Any, Any] | None:
    """Rows' ``{class as text: probability}`` as an n x k matrix; None if any lacks them."""
    if not len(maps) or any(not isinstance(row, dict) for row in maps):
        return None
    names = [str(value) for value in classes]
    return np.array(
        [[float(row.get(name, 0.0)) for name in names] for row in maps], dtype=np.float64
    )


def _class_of(value: Any, classes: list[Any]) -> Any:
    """A logged label or answer as the class it names (labels arrive as JSON values)."""
    for known in classes:
        if value == known or str(value) == str(known):
            return known
    return value


def _drift_dict(result: DriftResult, reference: Reference) -> dict[str, Any]:
    column = reference.train.columns.get(result.column)
    numeric = column.is_numeric if column is not None else reference.task == "regression"
    return {
        "type": "numeric" if numeric else "categorical",
        "metric": result.metric,
        "score": result.value,
        "threshold": result.threshold,
        "drifted": result.drifted,
        "status": result.status,
        "count": result.count,
        "reference_count": result.reference_count,
    }
