"""shipyard: take machine-learning models to production and keep them healthy there.

>>> import shipyard
>>> project = shipyard.Project.open()  # doctest: +SKIP

The errors are imported with the package; the other public names on first use
(``__getattr__``): the pipeline and the store (SQLAlchemy, pydantic) and ``PredictionLog``
(pandas, pyarrow) would otherwise add their import time to every ``shipyard`` command,
``--help`` and ``--version`` included.
"""

import typing

from shipyard.errors import (
    ArtifactCorrupted,
    ArtifactError,
    ArtifactNotFound,
    ComponentError,
    ConfigError,
    DataError,
    InvalidRequest,
    ModelNotFound,
    PipelineError,
    PipelineValidationError,
    ProjectNotFound,
    RecordNotFound,
    RegistryError,
    SchemaMismatch,
    ServingError,
    ShipyardError,
    StepFailed,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    ValidationFailed,
)
from shipyard.exports import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from shipyard.experiments import (
        TrackedRun,
        active_run,
        log_artifact,
        log_dataset,
        log_model,
        set_tag,
        set_tags,
        start_run,
    )
    from shipyard.pipeline import (
        Artifact,
        Component,
        Dataset,
        Input,
        Metrics,
        Model,
        Output,
        Pipeline,
        RunResult,
        StepResult,
        component,
        current_step,
        log_metric,
        log_metrics,
        log_param,
        log_params,
    )
    from shipyard.prediction_log import PredictionLog
    from shipyard.project import Project, load_model

__version__ = "0.1.0"

_LAZY_EXPORTS = {
    **dict.fromkeys(
        (
            "Artifact",
            "Component",
            "Dataset",
            "Input",
            "Metrics",
            "Model",
            "Output",
            "Pipeline",
            "RunResult",
            "StepResult",
            "component",
            "current_step",
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
        ),
        "shipyard.pipeline",
    ),
    **dict.fromkeys(
        (
            "TrackedRun",
            "active_run",
            "log_artifact",
            "log_dataset",
            "log_model",
            "set_tag",
            "set_tags",
            "start_run",
        ),
        "shipyard.experiments",
    ),
    "PredictionLog": "shipyard.prediction_log",
    "Project": "shipyard.project",
    "load_model": "shipyard.project",
}
"""The public names imported on first use, and the module each comes from."""

__all__ = [
    "Artifact",
    "ArtifactCorrupted",
    "ArtifactError",
    "ArtifactNotFound",
    "Component",
    "ComponentError",
    "ConfigError",
    "DataError",
    "Dataset",
    "Input",
    "InvalidRequest",
    "Metrics",
    "Model",
    "ModelNotFound",
    "Output",
    "Pipeline",
    "PipelineError",
    "PipelineValidationError",
    "PredictionLog",
    "Project",
    "ProjectNotFound",
    "RecordNotFound",
    "RegistryError",
    "RunResult",
    "SchemaMismatch",
    "ServingError",
    "ShipyardError",
    "StepFailed",
    "StepResult",
    "StoreConflict",
    "StoreError",
    "StoreUnavailable",
    "TrackedRun",
    "ValidationFailed",
    "__version__",
    "active_run",
    "component",
    "current_step",
    "load_model",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
    "start_run",
]


__getattr__ = _lazy_exports(__name__, _LAZY_EXPORTS)
