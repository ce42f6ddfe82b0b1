"""LightGBM and XGBoost answered by their own boosters: the wrapper's numbers, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.modeling import build_estimator
from shipyard.modeling.compiled import compile_estimator

PARAMS = {
    "lightgbm": {"n_estimators": 12, "num_leaves": 7, "min_child_samples": 5},
    "xgboost": {"n_estimators": 12, "max_depth": 3},
}


def data(classes: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, 4))
    features[rng.random(features.shape) < 0.05] = np.nan  # missing values go their way
    score = np.nan_to_num(features[:, 0]) + 0.5 * np.nan_to_num(features[:, 1])
    if classes == 0:
        return features, 3.0 * score + rng.normal(scale=0.1, size=300)
    edges = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    return features, np.searchsorted(edges, score)


@pytest.mark.parametrize("classes", [0, 2, 3])
@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_the_booster_answers_as_the_wrapper_does(library: str, classes: int) -> None:
    task = "regression" if classes == 0 else "classification"
    features, target = data(classes)
    model = build_estimator(library, task=task, params=PARAMS[library], seed=0)
    model.fit(features, target)
    predictor = compile_estimator(model, probes=features)
    assert predictor is not None
    rows = np.random.default_rng(6).normal(size=(50, 4))
    rows[::7, 2] = np.nan
    methods = ["predict"] + (["predict_proba"] if classes else [])
    for method in methods:
        ours, theirs = getattr(predictor, method), getattr(model, method)
        expected = np.asarray(theirs(rows))
        assert ours(rows).dtype == expected.dtype
        assert ours(rows).tobytes() == expected.tobytes()
        assert ours(rows[3:4]).tobytes() == np.asarray(theirs(rows[3:4])).tobytes()
    if classes:
        assert predictor.predict_proba(rows).shape == (50, classes)
    else:
        with pytest.raises(TypeError, match="regressor"):
            predictor.predict_proba(rows)


def test_what_the_booster_cannot_promise_is_left_to_the_wrapper() -> None:
    features, target = data(3)
    softmax = build_estimator(
        "xgboost",
        task="classification",
        params={"n_estimators": 3, "objective": "multi:softmax"},
        seed=0,
    ).fit(features, target)
    assert compile_estimator(softmax) is None
    stopped = build_estimator(
        "xgboost",
        task="regression",
        params={"n_estimators": 50, "early_stopping_rounds": 2},
        seed=0,
    )
    target = target.astype(np.float64)
    stopped.fit(
        features[:200], target[:200], eval_set=[(features[200:], target[200:])], verbose=False
    )
    assert compile_estimator(stopped) is None
