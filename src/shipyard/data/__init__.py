"""Dataset statistics, schemas, validation and drift; tables a partition at a time.

Each module lists its public names in ``__all__``; this package re-exports them, so a new
module joins the public API with its names in ``_MODULES`` (and in ``__all__``).  They are
imported on first use: reading stored statistics, schemas or reports back — what a cached
run's summary does — needs neither pandas nor pyarrow, which reading and transforming
tables bring.
"""

from __future__ import annotations

import typing

from shipyard.exports import by_module, lazy_exports

if typing.TYPE_CHECKING:
    from shipyard.data.drift import (
        DEFAULT_DRIFT_BINS,
        DEFAULT_DRIFT_CONFIDENCE,
        DEFAULT_DRIFT_THRESHOLD,
        DEFAULT_MIN_COUNT,
        DriftMetric,
        DriftResult,
        DriftStatus,
        column_drift,
        dataset_drift,
        jensen_shannon_distance,
        noise_threshold,
    )
    from shipyard.data.feedback import LABEL_SOURCE, PREDICTION_ID, feedback_rows
    from shipyard.data.ingest import (
        TABLE_SUFFIXES,
        read_table,
        source_columns,
        source_digest,
        source_files,
        split_frame,
        split_mask,
    )
    from shipyard.data.partitions import (
        DEFAULT_PARTITION_ROWS,
        Partition,
        dictionary_columns,
        is_parquet,
        map_partitions,
        partitions_of,
        read_partition,
        reading,
        table_schema,
    )
    from shipyard.data.schema import ColumnSchema, Schema, infer_schema
    from shipyard.data.skew import MissingShare, SkewReport, TypeMismatch, schema_skew
    from shipyard.data.statistics import (
        DEFAULT_QUANTILE_RANKS,
        CategoricalSummary,
        ColumnStatistics,
        ColumnType,
        DatasetStatistics,
        Histogram,
        NumericSummary,
        StatisticsBuilder,
        compute_statistics,
        infer_column_type,
    )
    from shipyard.data.transform import (
        FittedTransform,
        TransformLearner,
        TransformSpec,
        TransformStats,
        TransformSummary,
        learn_transform,
    )
    from shipyard.data.validation import (
        DEFAULT_OUTSIDE_TOLERANCE,
        Anomaly,
        AnomalyKind,
        Severity,
        ValidationReport,
        validate_statistics,
    )

_MODULES: dict[str, tuple[str, ...]] = {
    "shipyard.data.drift": (
        "DEFAULT_DRIFT_BINS",
        "DEFAULT_DRIFT_CONFIDENCE",
        "DEFAULT_DRIFT_THRESHOLD",
        "DEFAULT_MIN_COUNT",
        "DriftMetric",
        "DriftResult",
        "DriftStatus",
        "column_drift",
        "dataset_drift",
        "jensen_shannon_distance",
        "noise_threshold",
    ),
    "shipyard.data.feedback": (
        "LABEL_SOURCE",
        "PREDICTION_ID",
        "feedback_rows",
    ),
    "shipyard.data.ingest": (
        "TABLE_SUFFIXES",
        "read_table",
        "source_columns",
        "source_digest",
        "source_files",
        "split_frame",
        "split_mask",
    ),
    "shipyard.data.partitions": (
        "DEFAULT_PARTITION_ROWS",
        "Partition",
        "dictionary_columns",
        "is_parquet",
        "map_partitions",
        "partitions_of",
        "read_partition",
        "reading",
        "table_schema",
    ),
    "shipyard.data.schema": (
        "ColumnSchema",
        "Schema",
        "infer_schema",
    ),
    "shipyard.data.skew": (
        "MissingShare",
        "SkewReport",
        "TypeMismatch",
        "schema_skew",
    ),
    "shipyard.data.statistics": (
        "DEFAULT_QUANTILE_RANKS",
        "CategoricalSummary",
        "ColumnStatistics",
        "ColumnType",
        "DatasetStatistics",
        "Histogram",
        "NumericSummary",
        "StatisticsBuilder",
        "compute_statistics",
        "infer_column_type",
    ),
    "shipyard.data.transform": (
        "FittedTransform",
        "TransformLearner",
        "TransformSpec",
        "TransformStats",
        "TransformSummary",
        "learn_transform",
    ),
    "shipyard.data.validation": (
        "DEFAULT_OUTSIDE_TOLERANCE",
        "Anomaly",
        "AnomalyKind",
        "Severity",
        "ValidationReport",
        "validate_statistics",
    ),
}
_LAZY = by_module(_MODULES)

__all__ = [
    # statistics
    "DEFAULT_QUANTILE_RANKS",
    "CategoricalSummary",
    "ColumnStatistics",
    "ColumnType",
    "DatasetStatistics",
    "Histogram",
    "NumericSummary",
    "StatisticsBuilder",
    "compute_statistics",
    "infer_column_type",
    # ingest
    "TABLE_SUFFIXES",
    "read_table",
    "source_columns",
    "source_digest",
    "source_files",
    "split_frame",
    "split_mask",
    # partitions
    "DEFAULT_PARTITION_ROWS",
    "Partition",
    "dictionary_columns",
    "is_parquet",
    "map_partitions",
    "partitions_of",
    "read_partition",
    "reading",
    "table_schema",
    # schema
    "ColumnSchema",
    "Schema",
    "infer_schema",
    # validation
    "DEFAULT_OUTSIDE_TOLERANCE",
    "Anomaly",
    "AnomalyKind",
    "Severity",
    "ValidationReport",
    "validate_statistics",
    # transform
    "FittedTransform",
    "TransformLearner",
    "TransformSpec",
    "TransformStats",
    "TransformSummary",
    "learn_transform",
    # drift
    "DEFAULT_DRIFT_BINS",
    "DEFAULT_DRIFT_CONFIDENCE",
    "DEFAULT_DRIFT_THRESHOLD",
    "DEFAULT_MIN_COUNT",
    "DriftMetric",
    "DriftResult",
    "DriftStatus",
    "column_drift",
    "dataset_drift",
    "jensen_shannon_distance",
    "noise_threshold",
    # skew
    "MissingShare",
    "SkewReport",
    "TypeMismatch",
    "schema_skew",
    # feedback
    "LABEL_SOURCE",
    "PREDICTION_ID",
    "feedback_rows",
]


__getattr__ = lazy_exports(__name__, _LAZY)
