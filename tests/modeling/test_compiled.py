"""Compiled predictors give scikit-learn's numbers bit for bit, or are not made at all."""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from prometheus_client import CollectorRegistry
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from shipyard.data.schema import Schema
from shipyard.data.transform import FittedTransform, TransformLearner
from shipyard.demo_data import AMES_TARGET, load_ames
from shipyard.errors import DataError, SchemaMismatch
from shipyard.modeling.compiled import (
    FALLBACKS,
    MAX_BATCH_ROWS,
    TESTED_SKLEARN,
    CompiledPredictor,
    compile_estimator,
)
from shipyard.modeling.package import ModelPackage, write_package
from tests.helpers import run_python

Floats = npt.NDArray[np.float64]


def same_bits(ours: npt.NDArray[Any], theirs: npt.NDArray[Any]) -> bool:
    """Equal values, and for floats equal bits (``np.array_equal`` takes -0.0 for 0.0)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return False
    if not np.array_equal(ours, theirs, equal_nan=ours.dtype.kind == "f"):
        return False
    return ours.dtype.kind != "f" or ours.tobytes() == theirs.tobytes()


def compiled(estimator: Any) -> CompiledPredictor:
    predictor = compile_estimator(estimator)
    assert predictor is not None, f"{estimator!r} was not compiled"
    return predictor


def assert_matches(estimator: Any, features: Floats, *, single_rows: int = 25) -> None:
    """Every output matches, for the whole batch and for single rows."""
    predictor = compiled(estimator)
    classifier = hasattr(estimator, "classes_")
    pairs: list[tuple[Any, Any]] = [(predictor.predict, estimator.predict)]
    if classifier:
        pairs.append((predictor.predict_proba, estimator.predict_proba))
        pairs.append((predictor.decision_function, estimator.decision_function))
    elif hasattr(estimator, "_raw_predict"):
        pairs.append((predictor.decision_function, estimator._raw_predict))
    for ours, theirs in pairs:
        assert same_bits(ours(features), theirs(features)), ours.__name__
        for i in range(min(single_rows, len(features))):
            row = features[i : i + 1]
            assert same_bits(ours(row), theirs(row)), f"{ours.__name__}, row {i}"


# -- data ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ames() -> tuple[FittedTransform, Floats, Floats]:
    frame = load_ames()
    inputs = frame.drop(columns=AMES_TARGET)
    fitted = TransformLearner().fit(inputs)
    return fitted, fitted.transform_frame(inputs), frame[AMES_TARGET].to_numpy(np.float64)


@pytest.fixture(scope="module")
def ames_model(ames: tuple[FittedTransform, Floats, Floats]) -> HistGradientBoostingRegressor:
    _, features, target = ames
    return HistGradientBoostingRegressor(random_state=0).fit(features, target)


def synthetic(rows: int = 600, *, columns: int = 5, seed: int = 0) -> tuple[Floats, Floats]:
    """Features with NaNs (some columns mostly missing) and a target they explain."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, columns))
    features[:, 1] = np.round(features[:, 1], 1)  # few distinct values: ties on thresholds
    features[rng.random((rows, columns)) < 0.15] = np.nan
    features[rng.random(rows) < 0.6, 2] = np.nan
    filled = np.nan_to_num(features, nan=-1.5)
    target = filled[:, 0] * 3 + np.sin(filled[:, 1] * 2) + filled[:, 2] ** 2 + (filled[:, 3] > 0)
    return features, target + rng.normal(scale=0.1, size=rows)


def json_rows(count: int) -> list[dict[str, Any]]:
    """Ames rows as the server receives them: decoded JSON, without the target."""
    head = load_ames().drop(columns=AMES_TARGET).head(count)
    rows: list[dict[str, Any]] = json.loads(head.to_json(orient="records"))
    return rows


def with_nans(features: Floats, *, seed: int = 1) -> Floats:
    rng = np.random.default_rng(seed)
    holed = features.copy()
    holed[rng.random(features.shape) < 0.1] = np.nan
    return holed


def labels(target: Floats, classes: int) -> npt.NDArray[np.intp]:
    edges = np.quantile(target, np.linspace(0, 1, classes + 1)[1:-1])
    return np.digitize(target, edges)


# -- histogram gradient boosting -------------------------------------------------------


def test_ames_regressor_matches_bit_for_bit(
    ames: tuple[FittedTransform, Floats, Floats], ames_model: HistGradientBoostingRegressor
) -> None:
    _, features, _ = ames
    assert_matches(ames_model, features, single_rows=200)
    assert_matches(ames_model, with_nans(features))


def test_request_rows_through_the_transform_match(
    ames: tuple[FittedTransform, Floats, Floats], ames_model: HistGradientBoostingRegressor
) -> None:
    fitted, _, _ = ames
    requests = json_rows(50)
    predictor = compiled(ames_model)
    for request in requests:
        row = fitted.transform_rows([request])
        assert same_bits(predictor.predict(row), ames_model.predict(row))
    row = fitted.transform_rows([{}])  # every column missing: imputed
    assert same_bits(predictor.predict(row), ames_model.predict(row))


def test_synthetic_regressor_with_missing_values_matches() -> None:
    features, target = synthetic()
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(features, target)
    missing_left = [
        node["missing_go_to_left"]
        for trees in model._predictors
        for tree in trees
        for node in tree.nodes
        if not node["is_leaf"]
    ]
    assert any(missing_left) and not all(missing_left)  # both directions are exercised
    thresholds = np.concatenate([t.nodes["num_threshold"] for ts in model._predictors for t in ts])
    assert np.isinf(thresholds).any()  # a split of the missing values from the rest
    test, _ = synthetic(400, seed=5)
    assert_matches(model, test, single_rows=100)
    assert_matches(model, np.full((3, 5), np.nan))
    assert_matches(model, np.array([[np.inf] * 5, [-np.inf] * 5, [0.0] * 5, [-0.0] * 5]))


@pytest.mark.parametrize("loss", ["absolute_error", "poisson", "gamma", "quantile"])
def test_other_regression_losses_match(loss: str) -> None:
    features, target = synthetic()
    target = np.exp(target / 4)  # positive, for poisson and gamma
    quantile = 0.8 if loss == "quantile" else None
    model = HistGradientBoostingRegressor(loss=loss, quantile=quantile, max_iter=30, random_state=0)
    assert_matches(model.fit(features, target), synthetic(200, seed=3)[0])


@pytest.mark.parametrize(
    "classes",
    [np.array(["no", "yes"]), np.array([3, 7]), np.array([0, 1, 2]), np.array(list("abcdefghij"))],
    ids=["binary-text", "binary-int", "three-int", "ten-text"],
)
def test_classifiers_match(classes: npt.NDArray[Any]) -> None:
    features, target = synthetic(800)
    y = classes[labels(target, len(classes))]
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(features, y)
    test = synthetic(300, seed=7)[0]
    assert_matches(model, test, single_rows=60)
    assert compiled(model).predict(test).dtype == classes.dtype


def test_ames_classifier_matches(ames: tuple[FittedTransform, Floats, Floats]) -> None:
    _, features, target = ames
    y = np.array(["cheap", "fair", "dear", "luxury"])[labels(target, 4)]
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(features, y)
    assert_matches(model, features[::3])


def test_a_model_that_stopped_early_matches() -> None:
    features, target = synthetic(2000)
    model = HistGradientBoostingRegressor(
        max_iter=500, early_stopping=True, n_iter_no_change=3, random_state=0
    ).fit(features, target)
    assert model.n_iter_ < 500
    assert_matches(model, synthetic(300, seed=9)[0])
    y = labels(target, 3)
    classifier = HistGradientBoostingClassifier(
        max_iter=500, early_stopping=True, n_iter_no_change=3, random_state=0
    ).fit(features, y)
    assert classifier.n_iter_ < 500
    assert_matches(classifier, synthetic(300, seed=9)[0])


def test_trees_with_more_leaves_than_one_mask_holds_match() -> None:
    features, target = synthetic(3000, columns=6)
    model = HistGradientBoostingRegressor(
        max_iter=10, max_leaf_nodes=200, min_samples_leaf=2, random_state=0
    ).fit(features, target)
    assert max(int(t.nodes["is_leaf"].sum()) for ts in model._predictors for t in ts) > 128
    assert_matches(model, synthetic(500, columns=6, seed=2)[0], single_rows=100)


@pytest.mark.parametrize("leaves", [2, 9, 31, 33, 64, 255])
def test_trees_of_every_size_match(leaves: int) -> None:
    features, target = synthetic(2000)
    model = HistGradientBoostingRegressor(
        max_iter=8, max_leaf_nodes=leaves, min_samples_leaf=2, random_state=0
    ).fit(features, target)
    assert_matches(model, synthetic(300, seed=4)[0])


def test_a_model_of_one_leaf_trees_matches() -> None:
    features = np.zeros((50, 2))
    model = HistGradientBoostingRegressor(max_iter=3).fit(features, np.arange(50.0))
    assert_matches(model, np.array([[0.0, 1.0], [np.nan, -5.0]]))


def test_a_batch_beyond_the_servers_batches_matches_too(
    ames: tuple[FittedTransform, Floats, Floats], ames_model: HistGradientBoostingRegressor
) -> None:
    _, features, _ = ames
    predictor = compiled(ames_model)
    assert len(features) > MAX_BATCH_ROWS
    assert same_bits(predictor.predict(features), ames_model.predict(features))


# -- hypothesis: rows on, beside and between the thresholds ---------------------------

COLUMNS = 5


@pytest.fixture(scope="module")
def small_models() -> dict[str, Any]:
    features, target = synthetic(columns=COLUMNS)
    return {
        "regressor": HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(
            features, target
        ),
        "binary": HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(
            features, labels(target, 2)
        ),
        "multiclass": HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(
            features, np.array(["x", "y", "z"])[labels(target, 3)]
        ),
    }


def thresholds_of(models: dict[str, Any], column: int) -> list[float]:
    found: set[float] = set()
    for model in models.values():
        for trees in model._predictors:
            for tree in trees:
                nodes = tree.nodes[(tree.nodes["is_leaf"] == 0)]
                found.update(nodes["num_threshold"][nodes["feature_idx"] == column].tolist())
    return sorted(found)


def value_for(thresholds: list[float]) -> st.SearchStrategy[float]:
    finite = [t for t in thresholds if np.isfinite(t)]
    near = [float(np.nextafter(t, d)) for t in finite for d in (-np.inf, np.inf)]
    return st.one_of(
        st.sampled_from(finite + near),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]),
    )


@pytest.fixture(scope="module")
def row_strategy(small_models: dict[str, Any]) -> st.SearchStrategy[list[float]]:
    return st.tuples(*(value_for(thresholds_of(small_models, c)) for c in range(COLUMNS))).map(list)


@settings(max_examples=75, deadline=None)
@given(data=st.data())
def test_generated_rows_match(
    data: st.DataObject,
    small_models: dict[str, Any],
    row_strategy: st.SearchStrategy[list[float]],
) -> None:
    rows = np.array(data.draw(st.lists(row_strategy, min_size=1, max_size=8)), dtype=np.float64)
    for model in small_models.values():
        assert_matches(model, rows, single_rows=len(rows))


# -- linear models ---------------------------------------------------------------------


def test_linear_regressors_match(ames: tuple[FittedTransform, Floats, Floats]) -> None:
    _, features, target = ames
    for model in (LinearRegression(), Ridge(alpha=3.0), Ridge(fit_intercept=False)):
        assert_matches(model.fit(features, target), features[::5])


@pytest.mark.parametrize("classes", [2, 4])
def test_logistic_regression_matches(
    ames: tuple[FittedTransform, Floats, Floats], classes: int
) -> None:
    _, features, target = ames
    y = np.array(["a", "b", "c", "d"])[labels(target, classes)]
    model = LogisticRegression(max_iter=2000).fit(features[:, :40], y)
    assert_matches(model, features[::5, :40])


def test_a_linear_model_refuses_missing_values_as_scikit_learn_does() -> None:
    model = compiled(LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]))
    with pytest.raises(DataError, match="NaN or infinity"):
        model.predict(np.array([[1.0, np.nan, 0.0]]))


# -- what is not compiled --------------------------------------------------------------


class TweakedRegressor(HistGradientBoostingRegressor):  # type: ignore[misc]
    pass


def test_what_it_cannot_reproduce_is_left_to_the_estimator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    features, target = synthetic()
    filled = np.nan_to_num(features)
    categorical = np.column_stack([np.arange(len(target)) % 4, filled[:, :2]])
    unsupported = [
        HistGradientBoostingRegressor(max_iter=5).fit(
            pd.DataFrame(categorical, columns=["c", "x", "y"]).astype({"c": "category"}),
            target,
        ),
        HistGradientBoostingRegressor(categorical_features=[0], max_iter=5).fit(
            categorical, target
        ),
        TweakedRegressor(max_iter=5).fit(features, target),
        HistGradientBoostingRegressor(),  # not fitted
        RandomForestRegressor(n_estimators=2).fit(filled, target),
        LinearRegression().fit(filled, np.column_stack([target, target])),  # two targets
        "not a model",
    ]
    with caplog.at_level(logging.INFO, logger="shipyard.modeling.compiled"):
        for model in unsupported:
            assert compile_estimator(model) is None
    assert "categorical" in caplog.text


def test_a_compiled_model_that_disagrees_on_a_probe_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    features, target = synthetic()
    model = HistGradientBoostingRegressor(max_iter=5).fit(features, target)
    original = model.predict
    model.predict = lambda x: np.nextafter(original(x), np.inf)  # one ulp off
    with caplog.at_level(logging.WARNING, logger="shipyard.modeling.compiled"):
        assert compile_estimator(model) is None
    assert "differs" in caplog.text
    assert compile_estimator(model, probes=features) is None


def fallbacks(reason: str) -> float:
    registry = CollectorRegistry()
    registry.register(FALLBACKS)
    value = registry.get_sample_value(
        "shipyard_compiled_fallbacks_total",
        {"estimator": "HistGradientBoostingRegressor", "reason": reason},
    )
    return value or 0.0


def broken_baseline(model: Any) -> None:
    model._baseline_prediction = np.zeros((2, 2))  # another shape


def lost_trees(model: Any) -> None:
    del model._predictors  # renamed away


def strange_nodes(model: Any) -> None:
    for trees in model._predictors:
        trees[0].nodes = trees[0].nodes[["value", "is_leaf"]]  # fields gone


@pytest.mark.parametrize("breakage", [broken_baseline, lost_trees, strange_nodes])
def test_changed_private_attributes_fall_back_to_scikit_learn_loudly(
    caplog: pytest.LogCaptureFixture, breakage: Callable[[Any], None]
) -> None:
    features, target = synthetic()
    model = HistGradientBoostingRegressor(max_iter=5).fit(features, target)
    assert compile_estimator(model) is not None
    before = fallbacks("layout")
    breakage(model)
    with caplog.at_level(logging.WARNING, logger="shipyard.modeling.compiled"):
        assert compile_estimator(model) is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "predicts with scikit-learn's own predict" in record.getMessage()
    assert TESTED_SKLEARN in record.getMessage()
    assert fallbacks("layout") == before + 1


def test_a_model_that_disagrees_is_counted_as_a_fallback() -> None:
    features, target = synthetic()
    model = HistGradientBoostingRegressor(max_iter=5).fit(features, target)
    original = model.predict
    model.predict = lambda x: original(x) + 1.0
    before = fallbacks("difference")
    assert compile_estimator(model) is None
    assert fallbacks("difference") == before + 1


def test_the_tested_scikit_learn_range_is_the_pinned_one() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert f"scikit-learn{TESTED_SKLEARN}" in project["project"]["dependencies"]
    assert SpecifierSet(TESTED_SKLEARN).contains(sklearn.__version__)


def test_extra_probe_rows_are_checked_too() -> None:
    features, target = synthetic()
    model = HistGradientBoostingRegressor(max_iter=5).fit(features, target)
    assert compile_estimator(model, probes=features[:20]) is not None
    assert compile_estimator(model, probes=np.zeros((2, 3))) is None  # wrong width


def test_input_of_the_wrong_width_is_refused(ames_model: HistGradientBoostingRegressor) -> None:
    predictor = compiled(ames_model)
    with pytest.raises(SchemaMismatch, match="expects rows of"):
        predictor.predict(np.zeros((1, 3)))
    with pytest.raises(SchemaMismatch):
        predictor.predict(np.zeros(predictor.n_features))  # one row must still be 2-D
    with pytest.raises(TypeError, match="regressor"):
        predictor.predict_proba(np.zeros((1, predictor.n_features)))


# -- the model package -----------------------------------------------------------------


def package(tmp_path: Path, estimator: Any, fitted: FittedTransform, task: Any) -> ModelPackage:
    write_package(
        tmp_path / "model",
        estimator=estimator,
        transform=fitted,
        schema=Schema(),
        task=task,
        target=AMES_TARGET,
        estimator_path=f"{type(estimator).__module__}.{type(estimator).__name__}",
        params={},
    )
    return ModelPackage.load(tmp_path / "model")


def test_a_loaded_package_predicts_through_the_compiled_model(
    tmp_path: Path,
    ames: tuple[FittedTransform, Floats, Floats],
    ames_model: HistGradientBoostingRegressor,
) -> None:
    fitted, features, _ = ames
    loaded = package(tmp_path, ames_model, fitted, "regression")
    assert loaded.compiled
    requests = json_rows(20)
    expected = ames_model.predict(fitted.transform_rows(requests)).tolist()
    assert loaded.predict_rows(requests).values == expected
    assert [loaded.predict_rows([r]).values[0] for r in requests] == expected
    assert loaded.predict_features(features).values == ames_model.predict(features).tolist()


class Unreachable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the estimator was asked for {name}")


def test_small_batches_go_to_the_compiled_model_and_large_ones_to_the_estimator(
    tmp_path: Path,
    ames: tuple[FittedTransform, Floats, Floats],
    ames_model: HistGradientBoostingRegressor,
) -> None:
    fitted, features, _ = ames
    loaded = package(tmp_path, ames_model, fitted, "regression")
    assert loaded.compiled
    small = features[:MAX_BATCH_ROWS]
    loaded.estimator = Unreachable()
    assert loaded.predict_features(small).values == ames_model.predict(small).tolist()
    with pytest.raises(AssertionError, match="asked for predict"):
        loaded.predict_features(features[: MAX_BATCH_ROWS + 1])


def in_a_fresh_process(script: str) -> dict[str, Any]:
    """What ``script`` prints as JSON, run in an interpreter that has loaded nothing."""
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_an_evaluation_asks_the_estimator_and_compiles_nothing(
    tmp_path: Path,
    ames: tuple[FittedTransform, Floats, Floats],
    ames_model: HistGradientBoostingRegressor,
) -> None:
    # One batch, in the Evaluator's fresh worker: loading numba and compiling would
    # cost a second for predictions the estimator gives in milliseconds.
    fitted, features, target = ames
    package(tmp_path, ames_model, fitted, "regression")
    frame = load_ames().head(MAX_BATCH_ROWS)
    frame.to_parquet(tmp_path / "rows.parquet")
    script = f"""
import json, sys
from pathlib import Path
import pandas as pd
from shipyard.modeling.evaluation import evaluate
from shipyard.modeling.package import ModelPackage
package = ModelPackage.load(Path({str(tmp_path / "model")!r}))
frame = pd.read_parquet({str(tmp_path / "rows.parquet")!r})
result = evaluate(package, frame, slices=[], min_slice_size=1)
predictions = package.predict_frame(frame, compiled=False).values
print(json.dumps({{"numba": "numba" in sys.modules, "rmse": result.overall["rmse"],
                  "predictions": predictions}}))
"""
    report = in_a_fresh_process(script)
    assert report["numba"] is False
    expected = ames_model.predict(features[:MAX_BATCH_ROWS])
    assert report["predictions"] == expected.tolist()
    error = np.sqrt(np.mean((expected - target[:MAX_BATCH_ROWS]) ** 2))
    assert report["rmse"] == pytest.approx(error)


def test_the_kernel_loaded_ahead_is_the_one_a_regressor_predicts_with(
    tmp_path: Path,
    ames: tuple[FittedTransform, Floats, Floats],
    ames_model: HistGradientBoostingRegressor,
) -> None:
    # The infra probe's standby loads it while the Trainer runs; a kernel of other
    # argument types would leave the first prediction to load its own.
    fitted, _, _ = ames
    package(tmp_path, ames_model, fitted, "regression")
    script = f"""
import json
from pathlib import Path
from shipyard.modeling.package import ModelPackage
from shipyard.modeling.trees import load_kernel, walk
load_kernel()
ahead = [str(signature) for signature in walk.signatures]
package = ModelPackage.load(Path({str(tmp_path / "model")!r}))
package.predict_rows({json_rows(1)!r})
print(json.dumps({{"compiled": package.compiled, "ahead": ahead,
                  "after": [str(signature) for signature in walk.signatures]}}))
"""
    report = in_a_fresh_process(script)
    assert report["compiled"]
    assert len(report["ahead"]) == 1
    assert report["after"] == report["ahead"]


def test_a_loaded_classifier_package_gives_the_same_probabilities(
    tmp_path: Path, ames: tuple[FittedTransform, Floats, Floats]
) -> None:
    fitted, features, target = ames
    y = np.array(["cheap", "fair", "dear"])[labels(target, 3)]
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(features, y)
    loaded = package(tmp_path, model, fitted, "classification")
    assert loaded.compiled
    predictions = loaded.predict_features(features[:300])
    assert predictions.probabilities is not None
    assert same_bits(predictions.probabilities, model.predict_proba(features[:300]))
    assert predictions.values == model.predict(features[:300]).tolist()


def test_a_package_it_cannot_compile_still_predicts(
    tmp_path: Path, ames: tuple[FittedTransform, Floats, Floats]
) -> None:
    fitted, features, target = ames
    forest = RandomForestRegressor(n_estimators=3, max_depth=4, random_state=0)
    loaded = package(tmp_path, forest.fit(features, target), fitted, "regression")
    assert not loaded.compiled
    assert loaded.predict_features(features[:5]).values == forest.predict(features[:5]).tolist()
