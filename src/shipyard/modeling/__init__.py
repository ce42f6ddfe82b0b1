"""Estimators, model packages, metrics, confidence and the evaluation gate."""

from shipyard.modeling.confidence import AutomationPlan, ConfidenceModel, fit_confidence
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
    confidence_calibration_error,
    regression_metrics,
    task_metrics,
)
from shipyard.modeling.package import ModelPackage, PackageManifest, Predictions, write_package

__all__ = [
    "DEFAULT_ESTIMATORS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "AutomationPlan",
    "Blessing",
    "Check",
    "ConfidenceModel",
    "Evaluation",
    "ModelPackage",
    "PackageManifest",
    "Predictions",
    "SliceMetrics",
    "bless",
    "build_estimator",
    "calibration_error",
    "classification_metrics",
    "confidence_calibration_error",
    "estimator_class",
    "evaluate",
    "fit_confidence",
    "regression_metrics",
    "task_metrics",
    "write_package",
]
