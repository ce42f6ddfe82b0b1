"""ExampleGen: ingest a CSV or Parquet source as a dataset version, split in two.

With labelled predictions (a Parquet file of ``shipyard.data.feedback_rows``), their
rows join the training split only: the evaluation split stays the source's, so a model
trained on feedback is evaluated on the same rows as the one before it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.artifacts import file_digest
from shipyard.components.payloads import ExamplesPayload
from shipyard.components.types import Examples
from shipyard.data.ingest import (
    source_columns,
    source_digest,
    source_files,
    split_mask,
)
from shipyard.data.partitions import (
    DEFAULT_PARTITION_ROWS,
    Partition,
    dictionary_columns,
    map_partitions,
    partitions_of,
    read_partition,
    table_schema,
)
from shipyard.errors import DataError
from shipyard.pipeline import Component, Output, PublishContext, log_metric
from shipyard.store import ArtifactRecord
from shipyard.store.records import DATASETS_PROPERTY, DatasetVersionRecord

if TYPE_CHECKING:
    # pandas and pyarrow are imported by what reads or writes the splits: building the
    # standard pipeline, and a fully cached run of it, never does.
    import pandas as pd

    from shipyard.store import MetadataStore

__all__ = [
    "ExampleGen",
    "read_split",
    "source_version",
    "split_files",
    "split_head",
    "split_partitions",
    "split_rows",
]

TRAIN = "train.parquet"
EVAL = "eval.parquet"
FEEDBACK = "feedback.parquet"
FEEDBACK_SUFFIX = "-feedback"
"""Labelled predictions of dataset ``NAME`` are dataset ``NAME-feedback``."""
FEEDBACK_SOURCE = "prediction log"


def source_version(store: MetadataStore, examples: ArtifactRecord) -> DatasetVersionRecord | None:
    """The version of the source dataset ``examples`` were made from, if ExampleGen made
    them (feedback rows are a version of their own; see ``ExamplesPayload``)."""
    if "source_digest" not in examples.properties:
        return None
    payload = ExamplesPayload.from_properties(examples.properties)
    return store.datasets.find(payload.dataset, payload.source_digest)


def split_files(folder: Path, split: str) -> list[Path]:
    """The Parquet files of the ``train`` or ``eval`` split of an ``Examples`` artifact:
    its parts, in order (or the single file of artifacts made before partitions)."""
    path = folder / (TRAIN if split == "train" else EVAL)
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def split_partitions(folder: Path, split: str, *, rows: int) -> list[Partition]:
    """A split of an ``Examples`` artifact in partitions of about ``rows`` rows."""
    return partitions_of(split_files(folder, split), rows=rows)


def split_rows(folder: Path, split: str) -> int:
    """The number of rows of a split (read from the files' footers)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(path).num_rows for path in split_files(folder, split))


def split_head(folder: Path, split: str, rows: int) -> Any:
    """The first ``rows`` rows of a split (fewer if its first part is shorter), reading
    no more of it than they need."""
    import pyarrow.parquet as pq

    first = pq.ParquetFile(split_files(folder, split)[0])
    return next(first.iter_batches(batch_size=rows)).to_pandas()


def read_split(folder: Path, split: str, *, max_rows: int | None = None, seed: int = 0) -> Any:
    """The ``train`` or ``eval`` split of an ``Examples`` artifact as a DataFrame.

    With ``max_rows``, a larger split gives a uniform sample of that many rows (drawn
    with ``seed``, in the split's order), read a part at a time.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = split_files(folder, split)
    schema = table_schema(files) if len(files) > 1 else None
    total = split_rows(folder, split) if max_rows is not None else 0
    keep = None
    if max_rows is not None and total > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(total, max_rows, replace=False))
    tables = []
    offset = 0
    for path in files:
        table = pq.read_table(path)
        if keep is not None:
            rows = len(table)
            chosen = keep[np.searchsorted(keep, offset) : np.searchsorted(keep, offset + rows)]
            table = table.take(chosen - offset)
            offset += rows
        tables.append(table if schema is None else table.cast(schema))
    return pa.concat_tables(tables).to_pandas()


class ExampleGen(Component):
    """Reads a table (file or folder), registers its version, splits train/eval.

    The version is the sha256 of the source's bytes: ingesting identical data again is a
    cache hit and stores nothing new.  ``source_digest`` may be given by a caller that has
    already hashed the source; otherwise it is computed.

    The source is read a partition at a time (about ``partition_rows`` rows of Parquet
    row groups, or one CSV file), each split on its own and written as a part of each
    split: memory follows a partition, not the table, and with ``executor: dask`` the
    partitions run on the cluster.  A source of one partition splits as ``split_frame``
    does.

    ``feedback`` is a Parquet file of labelled predictions (``feedback_rows``), kept in
    the artifact as ``feedback.parquet`` with their prediction ids, and registered as a
    version of dataset ``NAME-feedback``; its ``feedback_digest`` is computed when not
    given.  New labels are a new digest, so the step and those after it run again.
    """

    examples: Output[Examples]
    source: str
    name: str
    eval_fraction: float = 0.2
    seed: int = 42
    key: str | None = None
    source_digest: str | None = None
    feedback: str | None = None
    feedback_digest: str | None = None
    partition_rows: int = DEFAULT_PARTITION_ROWS

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        extras = {}
        if not params.get("source_digest"):
            extras["source"] = source_digest(Path(params["source"]))
        if params.get("feedback") and not params.get("feedback_digest"):
            extras["feedback"] = file_digest(Path(params["feedback"]))
        return extras

    def run(self) -> None:
        from shipyard.data.feedback import LABEL_SOURCE

        source = Path(self.source)
        digest = self.source_digest or source_digest(source)
        files = source_files(source)
        columns = source_columns(files)
        partitions = partitions_of(files, rows=self.partition_rows)
        folder = self.examples.path
        for split in (TRAIN, EVAL):
            (folder / split).mkdir(parents=True)
        counts = map_partitions(
            _split_partition,
            partitions,
            str(folder),
            (self.eval_fraction, self.seed, self.key),
        )
        train_rows = sum(train for train, _ in counts)
        eval_rows = sum(evaluation for _, evaluation in counts)
        if train_rows + eval_rows == 0:
            raise DataError(f"{source} has no rows")
        if train_rows + eval_rows < 2:
            raise DataError("cannot split 1 row(s) into training and evaluation")
        if not train_rows or not eval_rows:
            raise DataError("the split left training or evaluation empty; change eval_fraction")
        payload = ExamplesPayload(
            dataset=self.name,
            source=str(source),
            source_digest=digest,
            rows=train_rows + eval_rows,
            columns=len(columns),
            train_rows=train_rows,
            eval_rows=eval_rows,
        )
        if self.feedback is not None:
            feedback = Path(self.feedback)
            rows = _feedback_rows(feedback, columns)
            _write_part(rows[columns], folder / TRAIN / "part-feedback.parquet")
            shutil.copyfile(feedback, folder / FEEDBACK)
            counted = rows[LABEL_SOURCE].value_counts()
            payload = replace(
                payload,
                train_rows=train_rows + len(rows),
                feedback_dataset=self.name + FEEDBACK_SUFFIX,
                feedback_digest=self.feedback_digest or file_digest(feedback),
                feedback_rows=len(rows),
                feedback_sources={str(k): int(counted[k]) for k in sorted(counted.index)},
            )
            log_metric("feedback_rows", len(rows))
        self.examples.properties.update(payload.to_properties())
        log_metric("rows", payload.rows)
        log_metric("partitions", len(partitions))

    def publish(self, context: PublishContext) -> None:
        examples = context.outputs["examples"]
        payload = ExamplesPayload.from_properties(examples.properties)
        versions = [
            context.store.datasets.register(
                name,
                digest=digest,
                source=payload.source if name == payload.dataset else FEEDBACK_SOURCE,
                rows=payload.rows if name == payload.dataset else payload.feedback_rows,
                columns=payload.columns,
                examples_id=examples.id,
                run_id=context.run.id,
            )
            for name, digest in payload.dataset_versions()
        ]
        # Lineage shows them beside the examples, even when an earlier run registered
        # them (the same source with other labels, or the same labels with another source).
        context.store.set_properties(
            "artifact", examples.id, {DATASETS_PROPERTY: [version.id for version in versions]}
        )


def _split_partition(
    partition: Partition, folder: str, split: tuple[float, int, str | None]
) -> tuple[int, int]:
    """Split one partition of the source into a part of each split: (train, eval) rows."""
    eval_fraction, seed, key = split
    frame = read_partition(partition)
    is_eval = split_mask(
        frame,
        eval_fraction=eval_fraction,
        seed=seed if partition.index == 0 else (seed, partition.index),
        key=key,
    )
    name = f"part-{partition.index:05d}.parquet"
    for part, rows in ((TRAIN, frame.loc[~is_eval]), (EVAL, frame.loc[is_eval])):
        if len(rows):
            _write_part(rows, Path(folder, part, name))
    evaluation = int(is_eval.sum())
    return len(frame) - evaluation, evaluation


def _write_part(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, use_dictionary=dictionary_columns(table.schema))


def _feedback_rows(path: Path, columns: list[str]) -> pd.DataFrame:
    """The labelled predictions in ``path``, which must have the source's ``columns``."""
    import pyarrow.parquet as pq

    from shipyard.data.feedback import LABEL_SOURCE

    rows: pd.DataFrame = pq.read_table(path).to_pandas()
    missing = sorted({*columns, LABEL_SOURCE} - set(rows.columns))
    if missing:
        raise DataError(
            f"feedback file {path} lacks columns {missing}; make it with "
            "shipyard.data.feedback_rows from this source"
        )
    return rows
