"""Estimators, model packages, metrics, confidence and the evaluation gate.

The names are loaded on first use: scikit-learn and skops come with most of them, and a
reader of a stored evaluation (``modeling.evaluation``) or an infra report has no need of
either.
"""

from __future__ import annotations

import typing

from shipyard.exports import by_module, lazy_exports

if typing.TYPE_CHECKING:
    from shipyard.modeling.confidence import AutomationPlan, ConfidenceModel, fit_confidence
    from shipyard.modeling.estimators import (
        DEFAULT_ESTIMATORS,
        ESTIMATORS,
        build_estimator,
        estimator_class,
        estimator_path,
    )
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
    from shipyard.modeling.package import (
        ModelPackage,
        PackageManifest,
        Predictions,
        write_package,
    )

__all__ = [
    "DEFAULT_ESTIMATORS",
    "ESTIMATORS",
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
    "estimator_path",
    "evaluate",
    "fit_confidence",
    "regression_metrics",
    "task_metrics",
    "write_package",
]

_MODULES = {
    "shipyard.modeling.confidence": ("AutomationPlan", "ConfidenceModel", "fit_confidence"),
    "shipyard.modeling.estimators": (
        "DEFAULT_ESTIMATORS",
        "ESTIMATORS",
        "build_estimator",
        "estimator_class",
        "estimator_path",
    ),
    "shipyard.modeling.evaluation": (
        "Blessing",
        "Check",
        "Evaluation",
        "SliceMetrics",
        "bless",
        "evaluate",
    ),
    "shipyard.modeling.metrics": (
        "HIGHER_IS_BETTER",
        "LOWER_IS_BETTER",
        "calibration_error",
        "classification_metrics",
        "confidence_calibration_error",
        "regression_metrics",
        "task_metrics",
    ),
    "shipyard.modeling.package": (
        "ModelPackage",
        "PackageManifest",
        "Predictions",
        "write_package",
    ),
}
_LAZY = by_module(_MODULES)


__getattr__ = lazy_exports(__name__, _LAZY)
