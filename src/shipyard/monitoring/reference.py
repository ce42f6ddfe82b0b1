"""What a model version's windows are compared with, made once per version and stored.

The reference of a version is what it learned from and how it behaved before it served:

- the statistics of its training split, which StatisticsGen stored in the run that
  trained it (features only: the target is not an input);
- the schema its package carries (the ranges and domains serving checks against);
- the statistics of its answers on its eval split, for output drift: the package is
  loaded once and predicts the eval split of the examples it was trained beside;
- its evaluation metrics, its classes and its confidence model (calibration), for the
  realised performance to be compared with and the label-free estimate.

It is found by following the version's lineage (its package back to the run's
``Examples`` and ``ExampleStatistics`` artifacts), stored as one JSON artifact and
recorded in the metadata store, so a pass never loads a model twice for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shipyard.artifacts import ArtifactStore
from shipyard.config import Task
from shipyard.data.schema import Schema
from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.errors import DataError, MonitoringError
from shipyard.modeling.confidence import ConfidenceModel
from shipyard.store import MetadataStore, upstream
from shipyard.store.records import ModelVersionRecord

__all__ = ["EVALUATION_METRICS", "OUTPUT", "Reference", "build_reference", "output_frame"]

OUTPUT = "prediction"
"""The one column of the outputs' statistics: the answers."""
EVALUATION_METRICS = ("accuracy", "f1", "roc_auc", "rmse", "mae", "r2")
"""The evaluation metrics windows are compared with, when the version has them."""
_MAX_EVAL_ROWS = 200_000  # answers enough for output statistics; more add nothing


@dataclass(frozen=True)
class Reference:
    """A version's training statistics, schema, eval-split answers and metrics."""

    model: str
    version: int
    task: Task
    features: list[str]
    train: DatasetStatistics
    outputs: DatasetStatistics | None
    schema: Schema
    evaluation: dict[str, float]
    classes: list[Any] | None
    confidence: ConfidenceModel | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "features": self.features,
            "train": self.train.to_dict(),
            "outputs": None if self.outputs is None else self.outputs.to_dict(),
            "schema": self.schema.model_dump(mode="json"),
            "evaluation": self.evaluation,
            "classes": self.classes,
            "confidence": None if self.confidence is None else self.confidence.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        try:
            return cls(
                model=str(data["model"]),
                version=int(data["version"]),
                task=data["task"],
                features=[str(name) for name in data["features"]],
                train=DatasetStatistics.from_dict(data["train"]),
                outputs=None
                if data["outputs"] is None
                else DatasetStatistics.from_dict(data["outputs"]),
                schema=Schema.model_validate(data["schema"]),
                evaluation={str(k): float(v) for k, v in data["evaluation"].items()},
                classes=data["classes"],
                confidence=None
                if data["confidence"] is None
                else ConfidenceModel.from_dict(data["confidence"]),
            )
        except (KeyError, TypeError, ValueError, DataError) as exc:
            raise MonitoringError(f"the stored monitoring reference is unreadable: {exc}") from exc


def output_frame(values: Any, task: Task) -> pd.DataFrame:
    """Answers as the one-column frame output statistics are computed from: numbers for
    a regressor, text for a classifier (so that 1, "1" and True stay apart as JSON has
    them)."""
    series = pd.Series(list(values), dtype="object")
    if task == "regression":
        return pd.DataFrame({OUTPUT: pd.to_numeric(series, errors="coerce").astype("float64")})
    return pd.DataFrame({OUTPUT: series.map(lambda v: None if v is None else str(v))})


def build_reference(
    version: ModelVersionRecord,
    *,
    store: MetadataStore,
    artifacts: ArtifactStore,
    registry: Any,
) -> Reference:
    """Gather ``version``'s reference from its lineage and its package.

    ``registry`` is the project's ``ModelRegistry`` (it loads the package once, for the
    eval split's answers).  A version without a training run (registered by hand) has
    no statistics to compare with: ``MonitoringError`` says so.
    """
    from shipyard.components.ingestion import read_split
    from shipyard.components.payloads import StatisticsPayload

    graph = upstream(store.reader, version.package)
    by_type: dict[str, list[Any]] = {}
    for artifact in sorted(graph.artifacts.values(), key=lambda a: a.id):
        by_type.setdefault(artifact.type_name, []).append(artifact)
    if not by_type.get("ExampleStatistics"):
        raise MonitoringError(
            f"{version.ref} has no training statistics in its lineage (was it registered "
            "by hand?); monitoring compares windows with the data a version learned from"
        )
    loaded = registry.load(version)
    package = loaded.package
    features = list(package.input_columns)
    statistics = by_type["ExampleStatistics"][-1]
    train_all = StatisticsPayload.read_split(
        artifacts.materialize(statistics.digest, statistics.kind), "train"
    )
    train = DatasetStatistics(
        num_rows=train_all.num_rows,
        columns={name: train_all[name] for name in features if name in train_all},
    )
    schema = Schema(columns=[c for c in package.schema.columns if c.name in features])
    outputs = None
    if by_type.get("Examples"):
        examples = by_type["Examples"][-1]
        folder = artifacts.materialize(examples.digest, examples.kind)
        frame = read_split(folder, "eval", max_rows=_MAX_EVAL_ROWS)
        if len(frame):
            answers = loaded.predict(frame[[c for c in features if c in frame.columns]])
            outputs = compute_statistics(output_frame(answers.values, package.task))
    metrics = version.metrics
    return Reference(
        model=version.model,
        version=version.version,
        task=package.task,
        features=features,
        train=train,
        outputs=outputs,
        schema=schema,
        evaluation={
            name: float(metrics[name])
            for name in EVALUATION_METRICS
            if isinstance(metrics.get(name), int | float)
        },
        classes=package.classes,
        confidence=package.confidence,
    )


def stored_reference(
    version: ModelVersionRecord, *, store: MetadataStore, artifacts: ArtifactStore, registry: Any
) -> Reference:
    """``version``'s reference: read if made before, otherwise built and stored."""
    digest = store.monitoring.reference(version.model, version.version)
    if digest is None:
        reference = build_reference(version, store=store, artifacts=artifacts, registry=registry)
        body = json.dumps(reference.to_dict(), sort_keys=True).encode()
        digest = artifacts.put_bytes(body, name="reference.json").digest
        store.monitoring.save_reference(version.model, version.version, digest)
        return reference
    data = json.loads(artifacts.materialize(digest, "file").read_bytes())
    return Reference.from_dict(data)
