"""The standard pipeline of a zero-code project, built from ``shipyard.yaml``.

ExampleGen → StatisticsGen → SchemaGen → ExampleValidator → Transform → Trainer →
Evaluator → InfraValidator → Pusher.  Before building it, the current ``production``
model and the dataset version it was trained on are looked up, and bound as the
Evaluator's baseline and the validator's previous statistics: a change of production
is then a change of those steps' inputs, and of their fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shipyard.components.analysis import ExampleValidator, SchemaGen, StatisticsGen
from shipyard.components.evaluation import Evaluator, InfraValidator
from shipyard.components.ingestion import ExampleGen
from shipyard.components.payloads import (
    AnomaliesPayload,
    DecisionPayload,
    EvaluationPayload,
    ExamplesPayload,
    InfraPayload,
    StatisticsPayload,
)
from shipyard.components.pushing import Pusher
from shipyard.components.training import Trainer, Transform
from shipyard.config import ProjectConfig, Task, safe_name
from shipyard.data.drift import DriftResult
from shipyard.data.ingest import read_table, source_digest
from shipyard.data.statistics import DatasetStatistics
from shipyard.data.validation import Anomaly
from shipyard.errors import ConfigError
from shipyard.modeling.evaluation import Blessing
from shipyard.pipeline import Pipeline, RunResult
from shipyard.registry import ModelRegistry
from shipyard.store import ArtifactRecord, MetadataStore
from shipyard.store.records import DatasetVersionRecord, ModelVersionRecord

__all__ = [
    "StandardSummary",
    "infer_task",
    "standard_config",
    "standard_pipeline",
    "summarize",
]

PIPELINE_NAME = "standard"


def _previous_statistics(
    store: MetadataStore, production: ModelVersionRecord | None, dataset: str, digest: str
) -> ArtifactRecord | None:
    """Statistics of the data production was trained on (the validated reference).

    When the data is production's own there is nothing to compare with.  Without a
    production model, the newest other version is the reference: no version has been
    accepted yet.  A version that failed validation is never the reference while a
    production model exists.
    """
    version: DatasetVersionRecord | None
    if production is not None and production.dataset_version_id is not None:
        version = store.datasets.get(production.dataset_version_id)
        if version.digest == digest:
            return None
    else:
        version = store.datasets.previous(dataset, before_digest=digest)
    if version is None or version.statistics_id is None:
        return None
    return store.get_artifact(version.statistics_id)


def standard_pipeline(
    config: ProjectConfig, *, root: Path, store: MetadataStore, registry: ModelRegistry
) -> Pipeline:
    """The standard pipeline of the project in ``root`` as its configuration describes."""
    data = config.data
    if data is None:
        raise ConfigError(
            "shipyard.yaml has no 'data' section; run `shipyard init --data FILE --target "
            "COLUMN` or add one"
        )
    source = (root / data.source).resolve()
    digest = source_digest(source)
    name = config.model_name
    production = registry.find(name, "production")
    examples = ExampleGen(
        source=str(source),
        name=name,
        eval_fraction=data.split.eval_fraction,
        seed=data.split.seed,
        key=data.split.key,
        source_digest=digest,
    )
    statistics = StatisticsGen(examples=examples.outputs.examples)
    pinned = None if data.schema_file is None else str((root / data.schema_file).resolve())
    schema = SchemaGen(statistics=statistics.outputs.statistics, pinned=pinned)
    validator = ExampleValidator(
        statistics=statistics.outputs.statistics,
        schema=schema.outputs.schema,
        schema_pinned=pinned is not None,
        drift_thresholds=config.validation.drift_thresholds,
        drift_severity=config.validation.drift_severity,
        range_severity=config.validation.range_severity,
        size_change_bound=config.validation.size_change_bound,
    )
    previous = _previous_statistics(store, production, name, digest)
    if previous is not None:
        validator.bind(previous=previous)
    settings = config.transform
    transform = Transform(
        examples=examples.outputs.examples,
        schema=schema.outputs.schema,
        anomalies=validator.outputs.anomalies,
        target=data.target,
        features=data.features,
        drop=data.drop,
        impute=settings.impute,
        scaling=settings.scaling,
        encoding=settings.encoding,
        max_categories=settings.max_categories,
        derive=settings.derive,
    )
    trainer = Trainer(
        examples=examples.outputs.examples,
        transform=transform.outputs.transform,
        schema=schema.outputs.schema,
        task=data.task,
        target=data.target,
        estimator=config.model.estimator,
        params=config.model.params,
        seed=config.model.seed,
    )
    evaluator = Evaluator(
        examples=examples.outputs.examples,
        model=trainer.outputs.model,
        settings=config.evaluation.model_dump(mode="json"),
    )
    if production is not None:
        evaluator.bind(baseline=production.package)
    infra = InfraValidator(
        model=trainer.outputs.model,
        examples=examples.outputs.examples,
        max_load_seconds=config.infra.max_load_seconds,
        max_p99_ms=config.infra.max_p99_ms,
        requests=config.infra.requests,
    )
    pusher = Pusher(
        model=trainer.outputs.model,
        evaluation=evaluator.outputs.evaluation,
        infra=infra.outputs.infra,
        examples=examples.outputs.examples,
        model_name=name,
    )
    steps = [examples, statistics, schema, validator, transform, trainer, evaluator, infra, pusher]
    return Pipeline(PIPELINE_NAME, steps)


@dataclass
class StandardSummary:
    """What each stage of a standard run found, for people to read."""

    dataset: ExamplesPayload | None = None
    statistics: DatasetStatistics | None = None
    validated: bool = False
    anomalies: list[Anomaly] = field(default_factory=list)
    drift: list[DriftResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] | None = None
    blessing: Blessing | None = None
    infra: InfraPayload | None = None
    decision: DecisionPayload | None = None
    version: ModelVersionRecord | None = None


def summarize(result: RunResult, *, registry: ModelRegistry) -> StandardSummary:
    """Read the artifacts of a standard run back into a ``StandardSummary``."""
    artifacts = registry.artifacts
    summary = StandardSummary()

    def read_bytes(step: str, port: str) -> bytes:
        return artifacts.read_bytes(result.output(step, port).digest)

    steps = result.steps
    if steps["ExampleGen"].status in ("succeeded", "cached"):
        examples = result.output("ExampleGen", "examples")
        summary.dataset = ExamplesPayload.from_properties(examples.properties)
    if steps["StatisticsGen"].status in ("succeeded", "cached"):
        folder = artifacts.materialize(result.output("StatisticsGen", "statistics").digest, "dir")
        summary.statistics = StatisticsPayload.read_split(folder, "train")
    if steps["ExampleValidator"].status in ("succeeded", "cached"):
        report = AnomaliesPayload.from_bytes(read_bytes("ExampleValidator", "anomalies"))
        summary.validated = True
        summary.anomalies = [*report.train.anomalies, *report.evaluation.anomalies]
        summary.drift = report.train.drift
    if steps["Evaluator"].status in ("succeeded", "cached"):
        evaluation = EvaluationPayload.from_bytes(read_bytes("Evaluator", "evaluation"))
        summary.metrics = evaluation.candidate.overall
        baseline = evaluation.baseline
        summary.baseline_metrics = None if baseline is None else baseline.overall
        summary.blessing = evaluation.blessing
    if steps["InfraValidator"].status in ("succeeded", "cached"):
        summary.infra = InfraPayload.from_bytes(read_bytes("InfraValidator", "infra"))
    if steps["Pusher"].status in ("succeeded", "cached"):
        summary.decision = DecisionPayload.from_bytes(read_bytes("Pusher", "decision"))
        package = result.output("Trainer", "model")
        summary.version = registry.store.models.by_package(
            result.run.params["Pusher"]["model_name"], package.id
        )
    return summary


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".parquet", ".pq"):
        name = name.removesuffix(suffix)
    return name


def infer_task(values: pd.Series) -> Task:
    """Regression for numbers with many distinct values; classification otherwise."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric:
        return "classification"
    present = values.dropna()
    fractional = bool((present != present.round()).any())
    return "regression" if fractional or present.nunique() > 20 else "classification"


def standard_config(
    name: str,
    *,
    root: Path,
    data: Path,
    target: str,
    task: Task | None,
    model_name: str | None = None,
) -> ProjectConfig:
    """The configuration ``shipyard init --data --target`` writes."""
    source = data.resolve()
    frame = read_table(source)
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20])) + (", ..." if frame.shape[1] > 20 else "")
        raise ConfigError(f"column '{target}' is not in {data}; its columns: {shown}")
    task = task or infer_task(frame[target])
    try:
        location = source.relative_to(root)
    except ValueError:
        location = source
    if task == "regression":
        thresholds = {"r2": {"lower": 0.0}}
        changes = {"rmse": {"relative": 0.05}}
    else:
        thresholds = {"roc_auc": {"lower": 0.5}}
        changes = {"accuracy": {"absolute": 0.02}}
    return ProjectConfig.model_validate(
        {
            "name": name,
            "data": {"source": str(location), "target": target, "task": task},
            "model": {"name": model_name or safe_name(_stem(source)) or name},
            "evaluation": {"thresholds": thresholds, "change_thresholds": changes},
        }
    )
