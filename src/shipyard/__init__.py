"""shipyard: take machine-learning models to production and keep them healthy there.

>>> import shipyard
>>> project = shipyard.Project.open()  # doctest: +SKIP
"""

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
)
from shipyard.project import Project

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
]
