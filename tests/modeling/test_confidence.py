"""Confidence models: what they promise on the eval split holds on rows never seen.

Each test fits on one split and checks on a held-out one: the calibration, the
precision and share an automation plan promises, and the conformal coverage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression
from sklearn.naive_bayes import GaussianNB

from shipyard.data.schema import Schema
from shipyard.data.transform import TransformLearner
from shipyard.errors import ArtifactError, DataError
from shipyard.modeling import (
    AutomationPlan,
    ConfidenceModel,
    ModelPackage,
    calibration_error,
    fit_confidence,
    write_package,
)
from shipyard.modeling.metrics import confidence_calibration_error

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Split:
    """A fitted model's answers on one split, and the truth."""

    truth: npt.NDArray[Any]
    values: npt.NDArray[Any]
    probabilities: Floats


def answers(model: Any, features: Floats, truth: npt.NDArray[Any]) -> Split:
    if hasattr(model, "predict_proba"):
        probabilities = np.asarray(model.predict_proba(features), dtype=np.float64)
        return Split(truth, np.asarray(model.classes_)[probabilities.argmax(axis=1)], probabilities)
    values = np.asarray(model.predict(features), dtype=np.float64)
    return Split(truth, values, np.empty((len(truth), 0)))


@pytest.fixture(scope="module")
def naive_bayes() -> tuple[GaussianNB, Split, Split]:
    """GaussianNB on correlated features with label noise: overconfident by design."""
    features, labels = make_classification(
        n_samples=6000,
        n_features=20,
        n_informative=6,
        n_redundant=8,
        flip_y=0.1,
        random_state=3,
    )
    classes = np.array(["no", "yes"], dtype=object)[labels]
    model = GaussianNB().fit(features[:2000], classes[:2000])
    return (
        model,
        answers(model, features[2000:4000], classes[2000:4000]),
        answers(model, features[4000:], classes[4000:]),
    )


def classifier_confidence(model: GaussianNB, split: Split, *, seed: int = 0) -> ConfidenceModel:
    return fit_confidence(
        "classification",
        truth=split.truth,
        values=split.values,
        probabilities=split.probabilities,
        classes=list(model.classes_),
        seed=seed,
    )


def heteroscedastic(rows: int, *, seed: int) -> tuple[Floats, Floats]:
    """y = 3x + noise whose spread grows with x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, rows)
    return x.reshape(-1, 1), 3 * x + rng.normal(0, 0.2 + 0.5 * x, rows)


@pytest.fixture(scope="module")
def regression() -> tuple[Split, Split]:
    train_x, train_y = heteroscedastic(2000, seed=0)
    model = LinearRegression().fit(train_x, train_y)
    eval_x, eval_y = heteroscedastic(2000, seed=1)
    held_x, held_y = heteroscedastic(4000, seed=2)
    return answers(model, eval_x, eval_y), answers(model, held_x, held_y)


def regressor_confidence(split: Split, *, coverage: float = 0.9) -> ConfidenceModel:
    return fit_confidence(
        "regression",
        truth=split.truth,
        values=split.values,
        probabilities=None,
        classes=None,
        coverage=coverage,
    )


def test_calibration_lowers_the_error_on_held_out_rows(
    naive_bayes: tuple[GaussianNB, Split, Split],
) -> None:
    model, evaluation, held_out = naive_bayes
    confidence = classifier_confidence(model, evaluation)

    summary = confidence.summary()
    assert summary["calibration_error_before"] == pytest.approx(
        calibration_error(evaluation.truth, evaluation.probabilities, list(model.classes_))
    )
    assert summary["calibration_error_after"] < summary["calibration_error_before"] / 2
    correct = (held_out.values == held_out.truth).astype(np.float64)
    before = calibration_error(held_out.truth, held_out.probabilities, list(model.classes_))
    after = confidence_calibration_error(confidence.confidence(held_out.probabilities), correct)
    assert before > 0.05 and after < before / 2


@pytest.mark.parametrize("target", [0.85, 0.9])
def test_the_precision_plan_holds_on_held_out_rows(
    naive_bayes: tuple[GaussianNB, Split, Split], target: float
) -> None:
    model, evaluation, held_out = naive_bayes
    confidence = classifier_confidence(model, evaluation)

    plan = confidence.plan(target_precision=target)

    assert plan.threshold is not None and plan.expected_precision is not None
    assert plan.target == target and plan.expected_precision >= target
    assert 0.2 < plan.expected_auto_share < 0.95
    decided = confidence.auto_mask(plan, probabilities=held_out.probabilities)
    assert decided.dtype == np.bool_ and decided.shape == (len(held_out.truth),)
    precision = float((held_out.values[decided] == held_out.truth[decided]).mean())
    assert abs(decided.mean() - plan.expected_auto_share) <= 0.05
    assert abs(precision - plan.expected_precision) <= 0.05
    assert precision >= target - 0.03
    # The plan is the largest decided set: one step lower falls below the target.
    calibration = confidence.calibration
    assert calibration is not None
    lower = [
        precision
        for threshold, precision in zip(
            calibration.curve_threshold, calibration.curve_precision, strict=True
        )
        if threshold < plan.threshold
    ]
    assert lower and lower[-1] < target
    assert plan.to_metrics() == {
        "auto_threshold": plan.threshold,
        "expected_auto_share": plan.expected_auto_share,
        "expected_auto_precision": plan.expected_precision,
    }


def test_an_unreachable_target_decides_nothing(
    naive_bayes: tuple[GaussianNB, Split, Split],
) -> None:
    model, evaluation, held_out = naive_bayes
    confidence = classifier_confidence(model, evaluation)

    plan = confidence.plan(target_precision=0.9999)

    assert plan == AutomationPlan(threshold=None, expected_auto_share=0.0, target=0.9999)
    assert plan.to_metrics() == {"expected_auto_share": 0.0}
    assert not confidence.auto_mask(plan, probabilities=held_out.probabilities).any()
    assert confidence.plan().threshold is None


def test_several_classes_get_a_confidence_of_the_top_class() -> None:
    features, labels = make_classification(
        n_samples=1500, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    model = GaussianNB().fit(features[:500], labels[:500])
    evaluation = answers(model, features[500:1000], labels[500:1000])
    confidence = classifier_confidence(model, evaluation)

    scores = confidence.confidence(model.predict_proba(features[1000:]))

    assert scores.shape == (500,) and ((scores >= 0) & (scores <= 1)).all()
    top = model.predict_proba(features[1000:]).max(axis=1)
    order = np.argsort(top)
    assert (np.diff(scores[order]) >= 0).all()  # calibration keeps the order of confidence


def test_conformal_intervals_hold_their_coverage_on_held_out_rows(
    regression: tuple[Split, Split],
) -> None:
    evaluation, held_out = regression
    for coverage in (0.8, 0.9):
        confidence = regressor_confidence(evaluation, coverage=coverage)

        low, high = confidence.intervals(held_out.values)

        covered = (held_out.truth >= low) & (held_out.truth <= high)
        assert abs(covered.mean() - coverage) <= 0.04
        summary = confidence.summary()
        assert abs(summary["interval_coverage"] - coverage) <= 0.04
        assert np.allclose(high - low, confidence.widths(held_out.values))
        assert summary["mean_interval_width"] == pytest.approx(
            confidence.widths(evaluation.values).mean()
        )
    # The noise grows with x: the widths follow it.
    widths = confidence.widths(held_out.values)
    small, large = held_out.values < 10, held_out.values > 20
    assert len(np.unique(widths)) >= 5
    assert widths[large].mean() > 2 * widths[small].mean()


def test_the_width_plan_holds_on_held_out_rows(regression: tuple[Split, Split]) -> None:
    evaluation, held_out = regression
    confidence = regressor_confidence(evaluation)
    widths = np.unique(confidence.widths(evaluation.values))
    middle = float((widths[len(widths) // 2 - 1] + widths[len(widths) // 2]) / 2)

    plan = confidence.plan(max_interval_width=middle)

    assert plan.threshold == middle and plan.target == middle
    assert plan.expected_precision is None and plan.expected_coverage is not None
    assert 0.2 < plan.expected_auto_share < 0.8
    decided = confidence.auto_mask(plan, values=held_out.values)
    assert abs(decided.mean() - plan.expected_auto_share) <= 0.05
    assert (confidence.widths(held_out.values)[decided] <= middle).all()
    low, high = confidence.intervals(held_out.values[decided])
    truth = held_out.truth[decided]
    assert abs(((truth >= low) & (truth <= high)).mean() - plan.expected_coverage) <= 0.04
    assert plan.to_metrics() == {
        "auto_threshold": middle,
        "expected_auto_share": plan.expected_auto_share,
        "expected_auto_coverage": plan.expected_coverage,
    }
    # Without a width, or narrower than every interval, nothing is decided alone.
    for unsure in (confidence.plan(), confidence.plan(max_interval_width=widths[0] / 2)):
        assert unsure.threshold is None and unsure.expected_auto_share == 0.0
        assert not confidence.auto_mask(unsure, values=held_out.values).any()


def test_a_small_eval_split_gets_one_bin(regression: tuple[Split, Split]) -> None:
    evaluation, held_out = regression
    few = Split(evaluation.truth[:25], evaluation.values[:25], evaluation.probabilities[:25])

    confidence = regressor_confidence(few)

    assert confidence.eval_rows == 25
    assert len(np.unique(confidence.widths(held_out.values))) == 1


def test_the_json_round_trip_gives_identical_answers(
    naive_bayes: tuple[GaussianNB, Split, Split], regression: tuple[Split, Split]
) -> None:
    model, evaluation, held_out = naive_bayes
    classifier = classifier_confidence(model, evaluation)
    again = ConfidenceModel.from_dict(json.loads(json.dumps(classifier.to_dict())))
    assert again == classifier
    assert np.array_equal(
        again.confidence(held_out.probabilities), classifier.confidence(held_out.probabilities)
    )
    assert again.plan(target_precision=0.9) == classifier.plan(target_precision=0.9)

    reg_eval, reg_held = regression
    regressor = regressor_confidence(reg_eval)
    back = ConfidenceModel.from_dict(json.loads(json.dumps(regressor.to_dict())))
    assert back == regressor
    for ours, theirs in zip(
        back.intervals(reg_held.values), regressor.intervals(reg_held.values), strict=True
    ):
        assert np.array_equal(ours, theirs)
    assert back.summary() == regressor.summary()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"format": 2}, "format 2"),
        ({"task": "ranking"}, "ranking"),
        ({"calibration": None}, "NoneType"),
        ({"calibration": {"knots_x": [0.5]}}, "knots_y"),
        ({"eval_rows": "many"}, "many"),
    ],
)
def test_a_malformed_dict_is_an_artifact_error(
    naive_bayes: tuple[GaussianNB, Split, Split], change: dict[str, Any], named: str
) -> None:
    model, evaluation, _ = naive_bayes
    data = classifier_confidence(model, evaluation).to_dict() | change
    with pytest.raises(ArtifactError, match="confidence model is malformed") as caught:
        ConfidenceModel.from_dict(data)
    assert named in str(caught.value)


def test_lists_that_disagree_are_refused(regression: tuple[Split, Split]) -> None:
    data = regressor_confidence(regression[0]).to_dict()
    data["conformal"]["half_widths"] = data["conformal"]["half_widths"][:-1]
    with pytest.raises(ArtifactError, match="differ in length"):
        ConfidenceModel.from_dict(data)
    data = regressor_confidence(regression[0]).to_dict()
    data["conformal"]["half_widths"][0] = float("inf")
    with pytest.raises(ArtifactError, match="finite"):
        ConfidenceModel.from_dict(data)


def test_bad_input_is_refused_by_name(
    naive_bayes: tuple[GaussianNB, Split, Split], regression: tuple[Split, Split]
) -> None:
    model, evaluation, _ = naive_bayes
    with pytest.raises(DataError, match="at least 20 labelled eval rows, not 19"):
        fit_confidence(
            "classification",
            truth=evaluation.truth[:19],
            values=evaluation.values[:19],
            probabilities=evaluation.probabilities[:19],
            classes=list(model.classes_),
        )
    with pytest.raises(DataError, match="probabilities and classes"):
        fit_confidence(
            "classification",
            truth=evaluation.truth,
            values=evaluation.values,
            probabilities=None,
            classes=None,
        )
    reg_eval, _ = regression
    with pytest.raises(DataError, match="coverage must be between 0 and 1, not 1.5"):
        regressor_confidence(reg_eval, coverage=1.5)
    classifier, regressor = classifier_confidence(model, evaluation), regressor_confidence(reg_eval)
    with pytest.raises(DataError, match="for regressors"):
        classifier.intervals(reg_eval.values)
    with pytest.raises(DataError, match="for classifiers"):
        regressor.confidence(evaluation.probabilities)
    plan = classifier.plan(target_precision=0.9)
    with pytest.raises(DataError, match="needs the probabilities"):
        classifier.auto_mask(plan, values=reg_eval.values)
    with pytest.raises(DataError, match="needs the predicted values"):
        regressor.auto_mask(plan, probabilities=evaluation.probabilities)


# -- in the model package --------------------------------------------------------------


def packaged(folder: Path, confidence: ConfidenceModel | None) -> Path:
    frame = pd.DataFrame({"x": np.linspace(0, 10, 200), "y": np.linspace(0, 30, 200)})
    fitted = TransformLearner().fit(frame.drop(columns="y"))
    estimator = LinearRegression().fit(fitted.transform_frame(frame), frame["y"])
    write_package(
        folder,
        estimator=estimator,
        transform=fitted,
        schema=Schema(),
        task="regression",
        target="y",
        estimator_path="sklearn.linear_model.LinearRegression",
        params={},
        confidence=confidence,
    )
    return folder


def test_the_package_keeps_its_confidence_model(
    tmp_path: Path, regression: tuple[Split, Split]
) -> None:
    evaluation, held_out = regression
    confidence = regressor_confidence(evaluation)

    package = ModelPackage.load(packaged(tmp_path / "model", confidence))

    assert package.confidence == confidence
    assert np.array_equal(
        package.confidence.widths(held_out.values), confidence.widths(held_out.values)
    )
    without = ModelPackage.load(packaged(tmp_path / "older", None))
    assert without.confidence is None
    assert not (tmp_path / "older" / "confidence.json").exists()


@pytest.mark.parametrize("text", ["{not json", '{"format": 1, "task": "regression"}', "[]"])
def test_a_corrupt_confidence_file_names_the_package(
    tmp_path: Path, regression: tuple[Split, Split], text: str
) -> None:
    folder = packaged(tmp_path / "model", regressor_confidence(regression[0]))
    (folder / "confidence.json").write_text(text)
    with pytest.raises(ArtifactError, match=f"model package in {folder}: confidence.json"):
        ModelPackage.load(folder)


def test_a_confidence_model_of_another_task_is_refused(
    tmp_path: Path, naive_bayes: tuple[GaussianNB, Split, Split]
) -> None:
    model, evaluation, _ = naive_bayes
    classifier = classifier_confidence(model, evaluation)
    with pytest.raises(DataError, match="for a classification model, not regression"):
        packaged(tmp_path / "refused", classifier)
    assert not (tmp_path / "refused").exists()
    folder = packaged(tmp_path / "model", None)
    (folder / "confidence.json").write_text(json.dumps(classifier.to_dict()))
    with pytest.raises(ArtifactError, match="for a classification model, not regression"):
        ModelPackage.load(folder)
