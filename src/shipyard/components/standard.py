"""The standard pipeline of a zero-code project, built from ``shipyard.yaml``.

ExampleGen → StatisticsGen → SchemaGen → ExampleValidator → Transform → (Tuner, when
``shipyard.yaml`` has a ``tuner`` section) → Trainer → Evaluator → InfraValidator →
Pusher.  Before building it, the current ``production`` model and the dataset version it
was trained on are looked up, and bound as the Evaluator's baseline and the validator's
previous statistics: a change of production is then a change of those steps' inputs, and
of their fingerprints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.artifacts import ArtifactStore
from shipyard.components.analysis import ExampleValidator, SchemaGen, StatisticsGen
from shipyard.components.evaluation import Evaluator, InfraValidator
from shipyard.components.ingestion import ExampleGen
from shipyard.components.pushing import Pusher
from shipyard.components.training import Trainer, Transform
from shipyard.components.tuning import Tuner
from shipyard.config import ProjectConfig
from shipyard.data.ingest import source_digest
from shipyard.errors import ConfigError
from shipyard.pipeline import Pipeline
from shipyard.registry import ModelRegistry
from shipyard.store import ArtifactRecord
from shipyard.store.records import DatasetVersionRecord, ModelVersionRecord

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.store import MetadataStore

__all__ = ["feedback_snapshot", "standard_pipeline"]

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
    config: ProjectConfig,
    *,
    root: Path,
    store: MetadataStore,
    registry: ModelRegistry,
    feedback: Path | None = None,
    feedback_digest: str | None = None,
    alias: str = "production",
) -> Pipeline:
    """The standard pipeline of the project in ``root`` as its configuration describes.

    ``feedback`` is a Parquet file of labelled predictions (``shipyard.data.feedback_rows``)
    that ExampleGen adds to the training split; the project makes it when
    ``data.include_feedback`` is on.  ``alias`` is what the Pusher moves to a blessed
    version (the retraining loop moves ``candidate``: the canary decides on production).
    """
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
        feedback=None if feedback is None else str(feedback),
        feedback_digest=feedback_digest,
        partition_rows=data.partition_rows,
    )
    statistics = StatisticsGen(
        examples=examples.outputs.examples, partition_rows=data.partition_rows
    )
    pinned = None if data.schema_file is None else str((root / data.schema_file).resolve())
    schema = SchemaGen(statistics=statistics.outputs.statistics, pinned=pinned)
    validator = ExampleValidator(
        statistics=statistics.outputs.statistics,
        schema=schema.outputs.schema,
        schema_pinned=pinned is not None,
        drift_thresholds=config.validation.drift_thresholds,
        drift_severity=config.validation.drift_severity,
        range_severity=config.validation.range_severity,
        outside_tolerance=config.validation.outside_tolerance,
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
        partition_rows=data.partition_rows,
    )
    tuner = None
    if config.tuner is not None:
        from shipyard.modeling.estimators import estimator_path
        from shipyard.modeling.tuning import check_space

        # A searched parameter the estimator does not take is a mistake of shipyard.yaml:
        # refused now, before anything runs.
        check_space(
            config.tuner.space,
            estimator=estimator_path(config.model.estimator, task=data.task),
            task=data.task,
        )
        tuner = Tuner(
            examples=examples.outputs.examples,
            transform=transform.outputs.transform,
            task=data.task,
            target=data.target,
            estimator=config.model.estimator,
            params=config.model.params,
            seed=config.model.seed,
            max_rows=config.model.max_rows,
            settings=config.tuner.model_dump(mode="json", by_alias=True, exclude_none=True),
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
        coverage=config.automation.coverage,
        max_rows=config.model.max_rows,
    )
    if tuner is not None:
        trainer.bind(tuning=tuner.outputs.tuning)
    evaluator = Evaluator(
        examples=examples.outputs.examples,
        model=trainer.outputs.model,
        settings=config.evaluation.model_dump(mode="json"),
        target_precision=config.automation.target_precision,
        max_interval_width=config.automation.max_interval_width,
        max_rows=config.model.max_rows,
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
        alias=alias,
    )
    steps = [examples, statistics, schema, validator, transform, *([tuner] if tuner else [])]
    steps += [trainer, evaluator, infra, pusher]
    return Pipeline(PIPELINE_NAME, steps)


def feedback_snapshot(
    labelled: pd.DataFrame, *, config: ProjectConfig, root: Path, artifacts: ArtifactStore
) -> tuple[Path, str] | None:
    """Labelled predictions (``PredictionLog.labelled_rows``) as rows of the project's
    data, stored: ExampleGen's ``feedback`` input.

    Returns a local Parquet file in the artifact store and its digest (the same labels
    make the same file), or ``None`` when there are none.  The rows have the source
    table's columns and dtypes, plus ``prediction_id`` and ``label_source``; a label or
    input that cannot be cast is a ``DataError`` naming its predictions, raised before
    anything is stored.
    """
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from shipyard.data import feedback_rows, read_table

    data = config.data
    if data is None:
        raise ConfigError("shipyard.yaml has no 'data' section to add feedback to")
    if labelled.empty:
        return None
    source = read_table((root / data.source).resolve())
    rows = feedback_rows(labelled, like=source, target=data.target)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feedback.parquet"
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path)
        blob = artifacts.put(path)
    return artifacts.materialize(blob.digest, "file"), blob.digest
