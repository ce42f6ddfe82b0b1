"""The standard, TFX-style components and the standard pipeline built from them.

Each component is usable on its own in a Python pipeline.
"""

from shipyard.components.analysis import ExampleValidator, SchemaGen, StatisticsGen
from shipyard.components.evaluation import Evaluator, InfraValidator
from shipyard.components.ingestion import ExampleGen, read_split
from shipyard.components.pushing import Pusher
from shipyard.components.standard import standard_pipeline
from shipyard.components.summary import StandardSummary, summarize
from shipyard.components.training import Trainer, Transform
from shipyard.components.tuning import Tuner
from shipyard.components.types import (
    DataSchema,
    ExampleAnomalies,
    Examples,
    ExampleStatistics,
    InfraBlessing,
    ModelEvaluation,
    ModelPackageArtifact,
    PushDecision,
    TransformGraph,
    TuningReport,
)

__all__ = [
    "DataSchema",
    "ExampleAnomalies",
    "ExampleGen",
    "ExampleStatistics",
    "ExampleValidator",
    "Examples",
    "Evaluator",
    "InfraBlessing",
    "InfraValidator",
    "ModelEvaluation",
    "ModelPackageArtifact",
    "PushDecision",
    "Pusher",
    "SchemaGen",
    "StandardSummary",
    "StatisticsGen",
    "Trainer",
    "Transform",
    "TransformGraph",
    "Tuner",
    "TuningReport",
    "read_split",
    "standard_pipeline",
    "summarize",
]
