"""Estimators with the scikit-learn API, named by their dotted class path.

The default is scikit-learn's histogram gradient boosting, for regression and for
classification; LightGBM and XGBoost work when their extras are installed.

>>> estimator = build_estimator(None, task="regression", params={"max_iter": 50}, seed=0)
>>> type(estimator).__name__
'HistGradientBoostingRegressor'
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from shipyard.config import Task
from shipyard.errors import ConfigError

__all__ = ["DEFAULT_ESTIMATORS", "build_estimator", "estimator_class"]

DEFAULT_ESTIMATORS: dict[str, str] = {
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
}
_EXTRAS = {"lightgbm": "lightgbm", "xgboost": "xgboost"}


def estimator_class(path: str) -> type:
    """Import the estimator class ``package.module.Class``."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ConfigError(
            f"model.estimator '{path}' must be a dotted path like sklearn.linear_model.Ridge"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = _EXTRAS.get(module_name.partition(".")[0])
        hint = f"; install it with: pip install 'shipyard[{extra}]'" if extra else ""
        raise ConfigError(f"model.estimator: cannot import {module_name}{hint}") from exc
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not hasattr(found, "fit") or not hasattr(found, "predict"):
        raise ConfigError(f"model.estimator: {path} is not an estimator class with fit and predict")
    return found


def build_estimator(path: str | None, *, task: Task, params: dict[str, Any], seed: int) -> Any:
    """A new, unfitted estimator; ``random_state`` is set to ``seed`` when it has one."""
    cls = estimator_class(path or DEFAULT_ESTIMATORS[task])
    arguments = dict(params)
    accepted = inspect.signature(cls).parameters
    if "random_state" in accepted and "random_state" not in arguments:
        arguments["random_state"] = seed
    try:
        return cls(**arguments)
    except TypeError as exc:
        raise ConfigError(f"model.params do not fit {cls.__name__}: {exc}") from exc
