"""Artifact types of the standard pipeline."""

from __future__ import annotations

from shipyard.pipeline.types import Artifact, Dataset, Metrics, Model

__all__ = [
    "DataSchema",
    "ExampleAnomalies",
    "ExampleStatistics",
    "Examples",
    "InfraBlessing",
    "ModelEvaluation",
    "ModelPackageArtifact",
    "PushDecision",
    "TransformGraph",
    "TuningReport",
]


class Examples(Dataset):
    """An ingested dataset version split in two: ``train.parquet`` and ``eval.parquet``,
    each a folder of Parquet parts (a file in artifacts made before partitions)."""


class ExampleStatistics(Metrics):
    """Mergeable statistics of each split: ``train.json`` and ``eval.json``."""


class DataSchema(Artifact):
    """What the data is expected to look like: ``schema.yaml``."""


class ExampleAnomalies(Metrics):
    """The validation report: anomalies with severities, and drift (JSON)."""


class TransformGraph(Artifact):
    """The preprocessing fitted on the training split (JSON)."""


class ModelPackageArtifact(Model):
    """A packaged model: estimator, transform, schema and manifest (a folder)."""

    type_name = "ModelPackage"


class ModelEvaluation(Metrics):
    """Metrics overall and per slice, the production model's, and the blessing (JSON)."""


class InfraBlessing(Metrics):
    """Load time and latency of the package in a fresh process, against budgets (JSON)."""


class PushDecision(Metrics):
    """Whether the model goes to production, and why (JSON)."""


class TuningReport(Metrics):
    """The Tuner's study: the metric, the best parameters and every trial (JSON)."""
