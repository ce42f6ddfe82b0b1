"""Estimators with the scikit-learn API, named by a short name or their dotted class path.

A short name stands for one class per task (``ESTIMATORS``); any other estimator is named
by its dotted class path, like ``sklearn.linear_model.Lasso``.  The default is
scikit-learn's histogram gradient boosting; ``lightgbm`` and ``xgboost`` work when their
extras are installed (``pip install 'shipyard[lightgbm]'``).

>>> estimator_path("lightgbm", task="classification")
'lightgbm.LGBMClassifier'
>>> estimator = build_estimator(None, task="regression", params={"max_iter": 50}, seed=0)
>>> type(estimator).__name__
'HistGradientBoostingRegressor'
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from shipyard.config import DEFAULT_ESTIMATOR, ESTIMATORS, Task, unknown_estimator
from shipyard.errors import ConfigError

__all__ = [
    "DEFAULT_ESTIMATORS",
    "ESTIMATORS",
    "build_estimator",
    "check_estimator_name",
    "encodes_labels",
    "estimator_class",
    "estimator_path",
    "unknown_estimator",
]

DEFAULT_ESTIMATORS: dict[Task, str] = ESTIMATORS[DEFAULT_ESTIMATOR]
_EXTRAS = {"lightgbm": "lightgbm", "xgboost": "xgboost"}
# Parameters a library gets unless model.params sets one of the names: a clean run on
# good data prints nothing (LightGBM otherwise logs "no further splits" per tree).
_QUIET: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "lightgbm": (("verbose", "verbosity"), {"verbose": -1}),
}


def check_estimator_name(name: str) -> str:
    """``name`` itself when it is a short name or a dotted path; else a ConfigError
    listing the short names."""
    problem = unknown_estimator(name)
    if problem is not None:
        raise ConfigError(f"model.estimator {problem}")
    return name


def estimator_path(name: str | None, *, task: Task) -> str:
    """The dotted class path that ``name`` (a short name, a dotted path or None for the
    default) stands for in ``task``."""
    if name is None:
        return DEFAULT_ESTIMATORS[task]
    if "." in check_estimator_name(name):
        return name
    return ESTIMATORS[name][task]


def estimator_class(path: str) -> type:
    """Import the estimator class ``package.module.Class`` (or the one a short name names
    for regression and classification alike — give a task through ``estimator_path``)."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        check_estimator_name(path)
        raise ConfigError(
            f"model.estimator '{path}' names a class per task; resolve it with estimator_path"
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


def encodes_labels(estimator: Any) -> bool:
    """Whether a classifier must be given class indices (0 .. k-1), not the labels
    themselves: XGBoost's classifiers refuse anything else."""
    return type(estimator).__module__.partition(".")[0] == "xgboost" and hasattr(
        estimator, "predict_proba"
    )


def _takes_random_state(cls: type) -> bool:
    if "random_state" in inspect.signature(cls).parameters:
        return True
    # XGBoost's estimators take it through **kwargs: their parameters say it.
    get_params = getattr(cls, "get_params", None)
    try:
        return get_params is not None and "random_state" in cls().get_params()
    except TypeError:  # a constructor that needs arguments
        return False


def build_estimator(name: str | None, *, task: Task, params: dict[str, Any], seed: int) -> Any:
    """A new, unfitted estimator; ``random_state`` is set to ``seed`` when it has one.

    ``name`` is a short name (``ESTIMATORS``), a dotted class path, or None: the default.
    """
    cls = estimator_class(estimator_path(name, task=task))
    arguments = dict(params)
    if _takes_random_state(cls) and "random_state" not in arguments:
        arguments["random_state"] = seed
    names, quiet = _QUIET.get(cls.__module__.partition(".")[0], ((), {}))
    if not any(name in arguments for name in names):
        arguments.update(quiet)
    try:
        return cls(**arguments)
    except TypeError as exc:
        raise ConfigError(f"model.params do not fit {cls.__name__}: {exc}") from exc
