"""Performance per window: realised from labels with intervals, estimated without labels.

The realised values must be the evaluation metrics' own (so a window compares with the
version it serves); the intervals must say how little a few labels prove; the estimate
must track the accuracy, F1 and AUC that labels later reveal when the model's calibrated
confidence is right, also when inputs drift to where the model is less sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import roc_auc_score

from shipyard.errors import DataError
from shipyard.modeling.confidence import ConfidenceModel, fit_confidence
from shipyard.modeling.metrics import classification_metrics, regression_metrics
from shipyard.monitoring import performance
from shipyard.monitoring.performance import (
    MetricInterval,
    estimated_performance,
    realised_performance,
)

Floats = npt.NDArray[np.float64]

# multiclass f1 in modeling.metrics passes pos_label with average="macro"; sklearn warns
MACRO_POS_LABEL = "ignore:Note that pos_label:UserWarning"


@dataclass(frozen=True)
class Window:
    """A classifier's answers on some rows and the labels that arrived for them."""

    truth: npt.NDArray[Any]
    predicted: npt.NDArray[Any]
    probabilities: Floats
    classes: list[str]


def softmax(logits: Floats) -> Floats:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def window(
    rows: int, classes: int, *, seed: int, spread: float = 1.0, overconfidence: float = 2.0
) -> Window:
    """Labels drawn from softmax(logits); the model says softmax(overconfidence * logits),
    which is wrong by the same amount on every side, so a top-label calibration fitted on
    such rows makes every class probability right.  ``spread`` scales the inputs:
    below 1 they move towards the decision boundaries, where the model is less sure."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(0.0, spread, size=(rows, 2))
    angles = np.linspace(0, 2 * np.pi, classes, endpoint=False)
    weights = 1.5 * np.stack([np.cos(angles), np.sin(angles)])
    logits = inputs @ weights
    true = softmax(logits)
    drawn = (rng.random(rows)[:, None] > np.cumsum(true, axis=1)).sum(axis=1)
    names = [f"class-{k}" for k in range(classes)]
    said = softmax(overconfidence * logits)
    labels = np.array(names, dtype=object)
    return Window(labels[drawn], labels[said.argmax(axis=1)], said, names)


def calibrated_on(eval_rows: Window) -> ConfidenceModel:
    return fit_confidence(
        "classification",
        truth=eval_rows.truth,
        values=eval_rows.predicted,
        probabilities=eval_rows.probabilities,
        classes=eval_rows.classes,
    )


def realised(rows: Window) -> dict[str, float]:
    found = realised_performance(
        "classification",
        rows.truth,
        rows.predicted,
        probabilities=rows.probabilities,
        classes=rows.classes,
        resamples=20,
    )
    return {name: interval.value for name, interval in found.items()}


# --- realised values are the evaluation metrics -------------------------------------------


@pytest.mark.filterwarnings(MACRO_POS_LABEL)
@pytest.mark.parametrize("classes", [2, 3])
def test_realised_values_equal_the_evaluation_metrics(classes: int) -> None:
    rows = window(3000, classes, seed=1)
    found = realised_performance(
        "classification",
        rows.truth,
        rows.predicted,
        probabilities=rows.probabilities,
        classes=rows.classes,
    )
    expected = classification_metrics(rows.truth, rows.predicted, rows.probabilities, rows.classes)
    assert set(found) == {"accuracy", "f1", "roc_auc"}
    for name, interval in found.items():
        assert interval.value == pytest.approx(expected[name], abs=1e-12), name
        assert interval.count == 3000


def test_binary_f1_is_that_of_the_last_class() -> None:
    # The last class is rare and mostly missed: its F1 is low while the first class's is high.
    truth = np.array(["no"] * 90 + ["yes"] * 10)
    predicted = np.array(["no"] * 90 + ["yes"] * 2 + ["no"] * 8)
    found = realised_performance("classification", truth, predicted, classes=["no", "yes"])
    assert found["f1"].value == pytest.approx(2 * 2 / (2 * 2 + 0 + 8))
    assert "roc_auc" not in found  # no probabilities


def test_realised_regression_values_equal_the_evaluation_metrics() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(200_000, 50_000, 2000)
    predicted = truth + rng.normal(0, 20_000, 2000)
    found = realised_performance("regression", truth, predicted)
    expected = regression_metrics(truth, predicted)
    assert set(found) == {"rmse", "mae", "r2"}
    for name, interval in found.items():
        assert interval.value == pytest.approx(expected[name], rel=1e-12), name
        assert interval.lower < interval.value < interval.upper


def test_labels_outside_the_classes_count_as_wrong() -> None:
    found = realised_performance(
        "classification", ["a", "new", "new"], ["a", "new", "b"], classes=["a", "b"]
    )
    assert found["accuracy"].value == pytest.approx(1 / 3)


def test_roc_auc_needs_every_class_in_the_labels() -> None:
    rows = window(200, 3, seed=3)
    kept = rows.truth != "class-2"
    found = realised_performance(
        "classification",
        rows.truth[kept],
        rows.predicted[kept],
        probabilities=rows.probabilities[kept],
        classes=rows.classes,
    )
    assert "roc_auc" not in found and "f1" in found


# --- intervals ------------------------------------------------------------------------------


def test_intervals_hold_the_value_and_narrow_as_labels_arrive() -> None:
    rows = window(8000, 2, seed=4)
    widths: dict[str, list[float]] = {"accuracy": [], "f1": [], "roc_auc": []}
    for count in (100, 1000, 8000):
        found = realised_performance(
            "classification",
            rows.truth[:count],
            rows.predicted[:count],
            probabilities=rows.probabilities[:count],
            classes=rows.classes,
        )
        for name, interval in found.items():
            assert interval.lower <= interval.value <= interval.upper, (name, count)
            widths[name].append(interval.upper - interval.lower)
    for name, found_widths in widths.items():
        assert found_widths[0] > found_widths[1] > found_widths[2], name
        # ~1/sqrt(n): 80 times the labels, about a ninth of the width
        assert found_widths[2] < found_widths[0] / 5, name


def test_thirty_labels_give_a_wide_interval() -> None:
    truth = np.array([1] * 30)
    predicted = np.array([1] * 24 + [0] * 6)  # 0.8 accuracy
    found = realised_performance("classification", truth, predicted, classes=[0, 1])
    accuracy = found["accuracy"]
    assert accuracy.value == pytest.approx(0.8)
    assert accuracy.upper - accuracy.lower > 0.2
    assert accuracy.to_dict() == {
        "value": accuracy.value,
        "lower": accuracy.lower,
        "upper": accuracy.upper,
        "count": 30,
    }


def test_a_lower_level_gives_a_narrower_interval() -> None:
    rows = window(500, 2, seed=5)
    wide, narrow = (
        realised_performance(
            "classification", rows.truth, rows.predicted, classes=rows.classes, level=level
        )
        for level in (0.99, 0.8)
    )
    for name in ("accuracy", "f1"):
        assert narrow[name].upper - narrow[name].lower < wide[name].upper - wide[name].lower


def test_the_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(6)
    truth = rng.normal(size=300)
    predicted = truth + rng.normal(size=300)
    first, again, other = (
        realised_performance("regression", truth, predicted, seed=seed) for seed in (0, 0, 1)
    )
    assert first == again
    assert first["rmse"] != other["rmse"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_many_labels_are_resampled_in_batches_with_the_same_result(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = window(2000, 3, seed=8)
    if task == "classification":
        args: tuple[Any, ...] = (rows.truth, rows.predicted)
        options: dict[str, Any] = {"probabilities": rows.probabilities, "classes": rows.classes}
    else:
        args, options = (rows.probabilities[:, 0], rows.probabilities[:, 1]), {}
    whole = realised_performance(task, *args, **options)  # type: ignore[arg-type]
    monkeypatch.setattr(performance, "MAX_DRAWS", 2000 * 7)  # 29 batches of 7 resamples
    assert realised_performance(task, *args, **options) == whole  # type: ignore[arg-type]


# --- estimates -------------------------------------------------------------------------------


@pytest.mark.parametrize(("classes", "tolerance"), [(2, 0.02), (3, 0.03)])
def test_estimate_follows_what_labels_reveal(classes: int, tolerance: float) -> None:
    confidence = calibrated_on(window(5000, classes, seed=10))
    rows = window(5000, classes, seed=11)
    estimate = estimated_performance(rows.probabilities, rows.classes, confidence=confidence)
    truth = realised(rows)
    for name in ("accuracy", "f1", "roc_auc"):
        assert estimate[name] == pytest.approx(truth[name], abs=tolerance), name


def test_uncalibrated_probabilities_overstate_accuracy() -> None:
    """The raw probabilities are overconfident: taken as they are they promise more than
    the labels give, which is why the estimate uses the calibrated confidence."""
    confidence = calibrated_on(window(5000, 2, seed=12))
    rows = window(5000, 2, seed=13)
    actual = realised(rows)["accuracy"]
    raw = estimated_performance(rows.probabilities, rows.classes, confidence=None)
    calibrated = estimated_performance(rows.probabilities, rows.classes, confidence=confidence)
    assert raw["accuracy"] > actual + 0.05
    assert calibrated["accuracy"] == pytest.approx(actual, abs=0.02)


def test_raw_probabilities_that_are_calibrated_estimate_well_alone() -> None:
    rows = window(5000, 3, seed=14, overconfidence=1.0)
    estimate = estimated_performance(rows.probabilities, rows.classes, confidence=None)
    truth = realised(rows)
    for name in ("accuracy", "f1", "roc_auc"):
        assert estimate[name] == pytest.approx(truth[name], abs=0.02), name


@pytest.mark.parametrize(("classes", "tolerance"), [(2, 0.03), (3, 0.05)])
def test_estimate_drops_with_accuracy_under_covariate_shift(classes: int, tolerance: float) -> None:
    """For three classes the estimate runs ~0.02 high after the shift: the calibration
    maps the top probability alone, and which accuracy a top probability means also
    depends on how the rest is split, which the shift changes."""
    confidence = calibrated_on(window(5000, classes, seed=20))
    before = window(5000, classes, seed=21)
    after = window(5000, classes, seed=22, spread=0.4)  # inputs near the boundaries
    estimates = [
        estimated_performance(rows.probabilities, rows.classes, confidence=confidence)["accuracy"]
        for rows in (before, after)
    ]
    actual = [realised(rows)["accuracy"] for rows in (before, after)]
    assert actual[1] < actual[0] - 0.1  # the shift hurts
    assert estimates[1] < estimates[0] - 0.1  # and the estimate sees it
    assert estimates[1] == pytest.approx(actual[1], abs=tolerance)


def test_estimated_auc_is_sklearns_with_sample_weights() -> None:
    rows = window(500, 2, seed=30)
    confidence = calibrated_on(window(2000, 2, seed=31))
    estimate = estimated_performance(rows.probabilities, rows.classes, confidence=confidence)
    top = confidence.confidence(rows.probabilities)
    positive = np.where(rows.probabilities.argmax(axis=1) == 1, top, 1 - top)
    score = rows.probabilities[:, 1]
    expected = roc_auc_score(
        np.r_[np.ones(500), np.zeros(500)],
        np.r_[score, score],
        sample_weight=np.r_[positive, 1 - positive],
    )
    assert estimate["roc_auc"] == pytest.approx(expected, abs=1e-12)


# --- bad input ------------------------------------------------------------------------------


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(DataError, match="truth has 3 rows but predicted has 2"):
        realised_performance("classification", [0, 1, 1], [0, 1], classes=[0, 1])


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        (np.full((3, 3), 1 / 3), r"rows x classes matrix \(3 x 2"),
        (np.full((2, 2), 0.5), r"rows x classes matrix \(3 x 2"),
        (np.full(3, 0.5), r"not shape \(3,\)"),
        (np.array([[0.5, 0.5], [np.nan, 1.0], [1.0, 0.0]]), "NaN"),
    ],
)
def test_probabilities_must_be_rows_by_classes(probabilities: Floats, message: str) -> None:
    with pytest.raises(DataError, match=message):
        realised_performance(
            "classification", [0, 1, 1], [0, 1, 1], probabilities=probabilities, classes=[0, 1]
        )


def test_estimate_refuses_probabilities_of_another_shape() -> None:
    with pytest.raises(DataError, match=r"n x 3.*not shape \(4, 2\)"):
        estimated_performance(np.full((4, 2), 0.5), ["a", "b", "c"], confidence=None)


def test_other_bad_input_is_refused() -> None:
    with pytest.raises(DataError, match="at least one label"):
        realised_performance("regression", [], [])
    with pytest.raises(DataError, match="level"):
        realised_performance("regression", [1.0, 2.0], [1.0, 2.0], level=95)
    with pytest.raises(DataError, match="pass classes="):
        realised_performance("classification", [0], [0], probabilities=np.ones((1, 1)))
    with pytest.raises(DataError, match="must be numbers"):
        realised_performance("regression", ["a", "b"], [1.0, 2.0])


def test_estimate_leaves_out_an_auc_no_row_can_have() -> None:
    certain = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    estimate = estimated_performance(certain, ["a", "b"], confidence=None)
    assert estimate == {"accuracy": 1.0, "f1": 0.0}


def test_result_is_plain_data() -> None:
    interval = MetricInterval(0.5, 0.4, 0.6, 10)
    assert interval.to_dict() == {"value": 0.5, "lower": 0.4, "upper": 0.6, "count": 10}
