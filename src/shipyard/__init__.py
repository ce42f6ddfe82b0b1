"""shipyard: take machine-learning models to production and keep them healthy there.

>>> import shipyard
>>> project = shipyard.Project.open()  # doctest: +SKIP

``PredictionLog`` is imported on first use: it needs pandas and pyarrow, which would
otherwise add about a second to every ``shipyard`` command.
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
    log_metric,
    log_metrics,
    log_param,
    log_params,
)
from shipyard.project import Project, load_model

if typing.TYPE_CHECKING:
    from shipyard.prediction_log import PredictionLog

__version__ = "0.1.0"

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
    "ValidationFailed",
    "__version__",
    "component",
    "load_model",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
]


def __getattr__(name: str) -> typing.Any:
    if name == "PredictionLog":
        from shipyard.prediction_log import PredictionLog

        globals()[name] = PredictionLog
        return PredictionLog
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
