"""Packaging an estimator fitted outside pipelines, as the Trainer packages its own."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.config import Task
from shipyard.data.schema import infer_schema
from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.data.transform import FittedTransform, TransformSpec, learn_transform
from shipyard.errors import DataError
from shipyard.modeling.package import ModelPackage, PackageManifest, write_package

__all__ = ["package_estimator"]

CHECKED_ROWS = 1_000
"""How many of the training frame's complete rows the package is checked on."""


def _task(estimator: Any) -> Task:
    from sklearn.base import is_classifier

    return "classification" if is_classifier(estimator) else "regression"


def _check_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(estimator, "predict"):
        raise DataError(f"log_model takes an estimator with predict; got {type(estimator)}")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise DataError(f"fit the {type(estimator).__name__} before logging it") from exc
    except TypeError:
        return  # not a scikit-learn estimator: its predictions are checked below


def _pass_through(features: pd.DataFrame) -> FittedTransform:
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise DataError(
            f"column {text[0]!r} is not numeric: an estimator fitted on columns as they are "
            "must have numbers only; fit it on a transform's features and pass transform="
        )
    return learn_transform(features, TransformSpec(numeric=tuple(features.columns), scaling="none"))


def _json_params(estimator: Any) -> dict[str, Any]:
    getter = getattr(estimator, "get_params", None)
    params = getter(deep=False) if callable(getter) else {}
    return {
        key: value
        for key, value in params.items()
        if value is None or isinstance(value, bool | int | float | str)
    }


def _without_feature_names(estimator: Any, names: tuple[str, ...]) -> Any:
    """The estimator as the package predicts: from arrays, columns in ``names`` order."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        return estimator
    if tuple(fitted) != names:
        raise DataError(
            f"the estimator was fitted on columns {list(fitted)}, but the features are "
            f"{list(names)}: fit it on the same columns, in the same order"
        )
    plain = copy.deepcopy(estimator)
    try:
        del plain.feature_names_in_
    except AttributeError:  # XGBoost reads them from its booster
        booster = getattr(plain, "get_booster", None)
        if booster is None:
            raise DataError(
                f"{type(estimator).__name__} keeps the names of the columns it was fitted "
                "on: fit it on an array (frame.to_numpy()) to log it"
            ) from None
        booster().feature_names = None
    return plain


def package_estimator(
    folder: Path,
    estimator: Any,
    *,
    data: pd.DataFrame,
    target: str,
    transform: FittedTransform | None,
) -> tuple[PackageManifest, DatasetStatistics]:
    """Write ``estimator`` (fitted on ``data`` without ``target``, through ``transform``
    when given) as a model package in ``folder``; return its manifest and the statistics
    of ``data`` (its schema's source).  A ``DataError`` names what does not fit, and
    then nothing is written."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"log_model: data must be a pandas DataFrame, got {type(data).__name__}")
    if target not in data.columns:
        raise DataError(f"log_model: the target column {target!r} is not in data")
    _check_fitted(estimator)
    features = data.drop(columns=[target])
    fitted = transform if transform is not None else _pass_through(features)
    model = _without_feature_names(estimator, fitted.feature_names)
    task = _task(estimator)
    complete = data[features.notna().all(axis=1)].head(CHECKED_ROWS)
    if complete.empty:
        raise DataError("log_model: data has no row without missing values to check on")
    matrix = fitted.transform_frame(complete)
    try:
        expected = np.asarray(estimator.predict(_as_fitted(estimator, matrix, fitted)))
    except Exception as exc:  # the estimator's own error says why it cannot predict
        raise DataError(f"the estimator cannot predict data's features: {exc}") from exc
    statistics = compute_statistics(data)
    schema = infer_schema(statistics)
    staging = folder.with_name(folder.name + ".partial")
    manifest = write_package(
        staging,
        estimator=model,
        transform=fitted,
        schema=schema,
        task=task,
        target=target,
        estimator_path=f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        params=_json_params(estimator),
    )
    answers = np.asarray(ModelPackage.load(staging).predict_frame(complete).values)
    if not _agree(answers.astype(expected.dtype), expected):
        raise DataError(
            "the packaged model does not answer as the estimator does on data: was it "
            "fitted on these columns, through this transform?"
        )
    staging.rename(folder)
    return manifest, statistics


def _agree(answers: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> bool:
    """Labels the same, numbers the same to rounding.  scikit-learn's own answers for
    the same rows differ in the last bits between a frame and an array: a frame becomes
    a column-major matrix, whose product BLAS sums in another order.  A wrong column or
    transform is off by far more than a billionth of the answers' scale."""
    if expected.dtype.kind not in "fc":
        return bool(np.array_equal(answers, expected))
    scale = float(np.max(np.abs(expected), initial=0.0))
    return bool(np.allclose(answers, expected, rtol=1e-9, atol=1e-9 * scale))


def _as_fitted(estimator: Any, matrix: np.ndarray[Any, Any], fitted: FittedTransform) -> Any:
    """The features as the estimator saw them when fitted: a frame with names when it
    was fitted on one."""
    if getattr(estimator, "feature_names_in_", None) is None:
        return matrix
    return pd.DataFrame(matrix, columns=list(fitted.feature_names))
