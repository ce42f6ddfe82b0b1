"""The ``shipyard.yaml`` that ``shipyard init --data FILE --target COLUMN`` writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shipyard.config import ProjectConfig, Task, safe_name
from shipyard.data.ingest import source_columns, source_files
from shipyard.data.partitions import DEFAULT_PARTITION_ROWS, partitions_of, read_partition
from shipyard.errors import ConfigError
from shipyard.modeling.estimators import estimator_class, estimator_path

__all__ = ["infer_task", "standard_config"]


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
    estimator: str | None = None,
) -> ProjectConfig:
    """The configuration ``shipyard init --data --target`` writes.

    ``estimator`` (a short name or a dotted class path) is imported now, so that a
    missing extra is said before the project exists.
    """
    source = data.resolve()
    files = source_files(source)
    # The first partition is read whole, so that data that cannot be read is said now,
    # and tells the target's kind: a table larger than memory is never read whole here.
    first = read_partition(partitions_of(files, rows=DEFAULT_PARTITION_ROWS)[0])
    columns = source_columns(files)
    if target not in columns:
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise ConfigError(f"column '{target}' is not in {data}; its columns: {shown}")
    task = task or infer_task(first[target])
    if estimator is not None:
        estimator_class(estimator_path(estimator, task=task))
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
            "model": {
                "name": model_name or safe_name(_stem(source)) or name,
                **({} if estimator is None else {"estimator": estimator}),
            },
            "evaluation": {"thresholds": thresholds, "change_thresholds": changes},
        }
    )
