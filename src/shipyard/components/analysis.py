"""StatisticsGen, SchemaGen and ExampleValidator: know the data before training on it."""

from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path
from typing import Any

from shipyard.components.ingestion import source_version, split_partitions
from shipyard.components.payloads import AnomaliesPayload, StatisticsPayload
from shipyard.components.types import DataSchema, ExampleAnomalies, Examples, ExampleStatistics
from shipyard.data.partitions import (
    DEFAULT_PARTITION_ROWS,
    Partition,
    map_partitions,
    read_partition,
)
from shipyard.data.schema import Schema, infer_schema
from shipyard.data.statistics import DatasetStatistics
from shipyard.data.validation import (
    DEFAULT_OUTSIDE_TOLERANCE,
    Severity,
    ValidationReport,
    validate_statistics,
)
from shipyard.errors import ValidationFailed
from shipyard.pipeline import Component, Input, Output, PublishContext, log_metric

__all__ = ["ExampleValidator", "SchemaGen", "StatisticsGen"]

CHUNK_ROWS = 100_000


def partition_statistics(partition: Partition) -> DatasetStatistics:
    """Statistics of one partition of a split, chunk by chunk."""
    from shipyard.data.statistics import compute_statistics

    frame = read_partition(partition)
    chunks = (frame.iloc[i : i + CHUNK_ROWS] for i in range(0, len(frame), CHUNK_ROWS))
    return compute_statistics(chunks)


def _split_statistics(examples: Path, split: str, partition_rows: int) -> DatasetStatistics:
    partitions = split_partitions(examples, split, rows=partition_rows)
    return functools.reduce(
        DatasetStatistics.merge, map_partitions(partition_statistics, partitions)
    )


class StatisticsGen(Component):
    """Per-column statistics of each split, computed a partition at a time and merged
    (on the cluster, with ``executor: dask``)."""

    examples: Input[Examples]
    statistics: Output[ExampleStatistics]
    partition_rows: int = DEFAULT_PARTITION_ROWS

    def run(self) -> None:
        payload = StatisticsPayload(
            train=_split_statistics(self.examples.path, "train", self.partition_rows),
            evaluation=_split_statistics(self.examples.path, "eval", self.partition_rows),
        )
        payload.write(self.statistics.path)
        self.statistics.properties.update(
            train_rows=payload.train.num_rows,
            eval_rows=payload.evaluation.num_rows,
            columns=len(payload.evaluation.column_names),
        )

    def publish(self, context: PublishContext) -> None:
        examples = context.inputs["examples"]
        version = source_version(context.store, examples)
        # Only the examples that registered the version describe it: others of the same
        # source may have another split, or feedback rows in their training split.
        if version is not None and version.examples_id == examples.id:
            context.store.datasets.attach_statistics(version.id, context.outputs["statistics"].id)


class SchemaGen(Component):
    """Infers the schema from the training statistics, or copies a pinned one."""

    statistics: Input[ExampleStatistics]
    schema: Output[DataSchema]
    pinned: str | None = None

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        if params.get("pinned") is None:
            return {}
        return {"pinned": hashlib.sha256(Path(params["pinned"]).read_bytes()).hexdigest()}

    def run(self) -> None:
        if self.pinned is not None:
            # Parse first, so a broken pinned schema fails here with its own message.
            Schema.from_yaml(Path(self.pinned).read_text())
            shutil.copyfile(self.pinned, self.schema.path)
            self.schema.properties["pinned"] = self.pinned
        else:
            schema = infer_schema(StatisticsPayload.read_split(self.statistics.path, "train"))
            self.schema.path.write_text(schema.to_yaml())
        self.schema.properties["columns"] = len(
            Schema.from_yaml(self.schema.path.read_text()).columns
        )


def _thresholds(
    configured: dict[str, float], statistics: DatasetStatistics
) -> float | dict[str, float] | None:
    if not configured:
        return None
    default = configured.get("default")
    if set(configured) == {"default"}:
        return default
    thresholds = {name: default for name in statistics.column_names} if default else {}
    thresholds.update({k: v for k, v in configured.items() if k != "default"})
    return {name: value for name, value in thresholds.items() if value is not None}


def format_report(report: ValidationReport, *, split: str) -> str:
    """The anomalies of a report, one line each, errors first."""
    ordered = sorted(report.anomalies, key=lambda a: a.severity != "error")
    return "\n".join(f"  [{a.severity}] {split}: {a.message}" for a in ordered)


class ExampleValidator(Component):
    """Checks the data against the schema and the previous dataset version.

    The reference schema is the pinned one when ``schema_pinned``; otherwise it is inferred
    from the ``previous`` version's statistics (so a changed column type or a removed
    column is caught), and from the current data only for the very first version.
    Anomalies of severity ``error`` fail the step — and so stop the pipeline before
    training — with a report naming each column; warnings are recorded.
    """

    statistics: Input[ExampleStatistics]
    schema: Input[DataSchema]
    previous: Input[ExampleStatistics] | None = None
    anomalies: Output[ExampleAnomalies]
    schema_pinned: bool = False
    drift_thresholds: dict[str, float] = {}
    drift_severity: Severity = "warning"
    range_severity: Severity = "warning"
    outside_tolerance: float = DEFAULT_OUTSIDE_TOLERANCE
    size_change_bound: float = 2.0

    def run(self) -> None:
        previous = None
        if self.previous is not None:
            previous = StatisticsPayload.read_split(self.previous.path, "train")
        if self.schema_pinned or previous is None:
            schema = Schema.from_yaml(self.schema.path.read_text())
        else:
            schema = infer_schema(previous)
        current = StatisticsPayload.read(self.statistics.path)

        def validate(statistics: DatasetStatistics, **options: Any) -> ValidationReport:
            return validate_statistics(
                statistics,
                schema,
                drift_thresholds=_thresholds(self.drift_thresholds, statistics),
                size_change_bound=self.size_change_bound,
                drift_severity=self.drift_severity,
                range_severity=self.range_severity,
                outside_tolerance=self.outside_tolerance,
                **options,
            )

        payload = AnomaliesPayload(
            train=validate(current.train, previous=previous),
            evaluation=validate(current.evaluation),
        )
        reports = {"train": payload.train, "eval": payload.evaluation}
        errors = [a for r in reports.values() for a in r.errors]
        warnings = [a for r in reports.values() for a in r.warnings]
        log_metric("anomaly_errors", len(errors))
        log_metric("anomaly_warnings", len(warnings))
        if errors:
            lines = "\n".join(format_report(r, split=s) for s, r in reports.items() if r.anomalies)
            raise ValidationFailed(
                f"data validation found {len(errors)} error(s) and {len(warnings)} "
                f"warning(s); training is stopped:\n{lines}",
                anomalies=errors,
            )
        payload.write(self.anomalies.path)
        self.anomalies.properties.update(
            warnings=len(warnings), compared_with_previous=previous is not None
        )
