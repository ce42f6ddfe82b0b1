"""Estimators, model packages, metrics and the evaluation gate."""

from shipyard.modeling.estimators import DEFAULT_ESTIMATORS, build_estimator, estimator_class
from shipyard.modeling.evaluation import (
    Blessing,
    Check,
    Evaluation,
    SliceMetrics,
    bless,
    evaluate,
)
from shipyard.modeling.metrics import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    calibration_error,
    classification_metrics,
    regression_metrics,
    task_metrics,
)
from shipyard.modeling.package import ModelPackage, PackageManifest, Predictions, write_package

__all__ = [
    "DEFAULT_ESTIMATORS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "Blessing",
    "Check",
    "Evaluation",
    "ModelPackage",
    "PackageManifest",
    "Predictions",
    "SliceMetrics",
    "bless",
    "build_estimator",
    "calibration_error",
    "classification_metrics",
    "estimator_class",
    "evaluate",
    "regression_metrics",
    "task_metrics",
    "write_package",
]
