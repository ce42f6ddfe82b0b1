from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from shipyard.config import EvaluationSettings
from shipyard.modeling import Evaluation, SliceMetrics, bless, calibration_error, task_metrics


def settings(**values: object) -> EvaluationSettings:
    return EvaluationSettings.model_validate(values)


def test_value_bounds_and_their_reasons() -> None:
    candidate = Evaluation(rows=10, overall={"r2": 0.4, "rmse": 3.0})
    blessing = bless(candidate, None, settings(thresholds={"r2": {"lower": 0.5}}))
    assert not blessing.blessed
    assert blessing.reasons == ["r2 on overall = 0.4 fails the bound >= 0.5"]
    assert bless(candidate, None, settings(thresholds={"r2": {"lower": 0.3, "upper": 1}})).blessed


def test_missing_metric_fails_its_bound() -> None:
    blessing = bless(
        Evaluation(rows=1, overall={}), None, settings(thresholds={"r2": {"lower": 0}})
    )
    assert blessing.reasons == ["r2 on overall = missing fails the bound >= 0"]


@pytest.mark.parametrize(
    ("metric", "candidate", "baseline", "change", "blessed"),
    [
        ("rmse", 10.4, 10.0, {"relative": 0.05}, True),
        ("rmse", 10.6, 10.0, {"relative": 0.05}, False),
        ("accuracy", 0.89, 0.90, {"absolute": 0.02}, True),
        ("accuracy", 0.87, 0.90, {"absolute": 0.02}, False),
        ("r2", 0.80, 0.80, {"relative": 0.0}, True),
    ],
)
def test_change_thresholds_follow_each_metric_direction(
    metric: str, candidate: float, baseline: float, change: dict[str, float], blessed: bool
) -> None:
    result = bless(
        Evaluation(rows=10, overall={metric: candidate}),
        Evaluation(rows=10, overall={metric: baseline}),
        settings(change_thresholds={metric: change}),
    )
    assert result.blessed is blessed
    assert result.checks[0].baseline == baseline


def test_change_thresholds_apply_only_with_a_production_model() -> None:
    result = bless(
        Evaluation(rows=1, overall={"rmse": 99.0}),
        None,
        settings(change_thresholds={"rmse": {"relative": 0.0}}),
    )
    assert result.blessed and result.checks == []


def test_slices_are_gated_only_when_asked() -> None:
    candidate = Evaluation(
        rows=10,
        overall={"r2": 0.9},
        slices=[SliceMetrics(column="area", value="north", rows=40, metrics={"r2": -0.2})],
    )
    assert bless(candidate, None, settings(thresholds={"r2": {"lower": 0}})).blessed
    gated = bless(candidate, None, settings(thresholds={"r2": {"lower": 0}}, gate_slices=True))
    assert gated.reasons == ["r2 on area=north = -0.2 fails the bound >= 0"]


def test_calibration_error_of_perfectly_calibrated_and_overconfident_models() -> None:
    # Half of the rows are 'yes' and the model says 0.5 everywhere: calibrated.
    truth = np.array(["yes", "no"] * 50, dtype=object)
    even = np.full((100, 2), 0.5)
    assert calibration_error(truth, even, ["no", "yes"]) == pytest.approx(0.0)
    # Always 90% sure of 'yes', right half of the time: off by 0.4.
    sure = np.tile([0.1, 0.9], (100, 1))
    assert calibration_error(truth, sure, ["no", "yes"]) == pytest.approx(0.4)


def test_classification_metrics_agree_with_definitions() -> None:
    truth = np.array([0, 1, 1, 0, 1])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1], [0.2, 0.8]])
    predicted = proba.argmax(axis=1)
    metrics = task_metrics("classification", truth, predicted, proba, [0, 1])
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["roc_auc"] == pytest.approx(1.0)
    assert metrics["f1"] == pytest.approx(0.8)
    assert brier_score_loss(truth, proba[:, 1]) < 0.2


def test_regression_metrics_and_undefined_r2() -> None:
    metrics = task_metrics("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx((4 / 3) ** 0.5)
    assert "r2" not in task_metrics("regression", [2.0, 2.0], [1.0, 3.0])
