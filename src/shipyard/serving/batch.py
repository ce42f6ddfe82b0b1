"""Batch prediction: a CSV or Parquet file of any size, in chunks, to Parquet or CSV;
or a table of any size, a partition per task of a local Dask cluster, to Parquet parts.

Chunks go through the same ``ModelPackage`` (transform and predictor) as the server's
requests, so batch and online predictions of the same row are the same number.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.data.ingest import source_files
from shipyard.data.partitions import (
    DEFAULT_PARTITION_ROWS,
    Partition,
    dictionary_columns,
    is_parquet,
    partitions_of,
    read_partition,
)
from shipyard.errors import DataError
from shipyard.modeling.package import ModelPackage
from shipyard.registry import LoadedModel

__all__ = ["predict_file", "predict_on_cluster"]

CHUNK_ROWS = 50_000
Progress = Callable[[int, int | None], None]


def _chunks(source: Path, rows: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    """Chunks of ``rows`` rows of a file, or of each file of a folder in turn, and the
    total when it is known (Parquet footers tell it; a CSV file's is unknown until read)."""
    files = source_files(source)
    parts = [_file_chunks(path, rows) for path in files]
    total = _known_total([count for _, count in parts])
    return itertools.chain.from_iterable(chunks for chunks, _ in parts), total


def _known_total(counts: list[int | None]) -> int | None:
    """The sum of ``counts``, unless one of them is unknown."""
    return None if None in counts else sum(count for count in counts if count is not None)


def _file_chunks(source: Path, rows: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    try:
        if is_parquet(source):
            # Pre-buffered row groups stay cached until the reader is closed (apache/arrow
            # #39808): memory would grow with the file, not with the chunk.
            parquet = pq.ParquetFile(source, pre_buffer=False)
            total = parquet.metadata.num_rows
            batches = parquet.iter_batches(batch_size=rows)
            return (batch.to_pandas() for batch in batches), total
        return iter(pd.read_csv(source, chunksize=rows, low_memory=False)), None
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {source}: {exc}") from exc


def predict_file(
    model: LoadedModel,
    source: Path,
    target: Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> int:
    """Predict every row of ``source`` (a file, or a folder of files with the same
    columns) into ``target``; returns the number of rows.

    The output holds the input columns plus ``prediction`` (and ``probability_<class>``
    for classifiers), written as Parquet or CSV by ``target``'s suffix.  It is written to
    a temporary name and renamed at the end: a failed run leaves no half-written file.
    """
    as_csv = target.name.lower().endswith(".csv")
    if not as_csv and not target.name.lower().endswith((".parquet", ".pq")):
        raise DataError(f"output {target} must end in .parquet or .csv")
    chunks, total = _chunks(source, chunk_rows)
    partial = target.with_name(f".{target.name}.partial")
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    done = 0
    try:
        for chunk in _chunks_checked(chunks, source):
            out = _with_predictions(model.package, chunk)
            table = pa.Table.from_pandas(out, preserve_index=False)
            if writer is None:
                schema = table.schema  # every chunk is written with the first one's types
                writer = (
                    pacsv.CSVWriter(partial, schema)
                    if as_csv
                    else pq.ParquetWriter(
                        partial, schema, use_dictionary=dictionary_columns(schema)
                    )
                )
            writer.write_table(table.cast(schema))
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        if writer is None:
            raise DataError(f"{source} has no rows")
        writer.close()
        writer = None
        partial.replace(target)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return done


def predict_on_cluster(
    model: LoadedModel,
    source: Path,
    target: Path,
    *,
    workers: int,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    progress: Progress | None = None,
) -> int:
    """Predict a table (a file or a folder) on a local Dask cluster of ``workers``
    processes, a partition per task; returns the number of rows.

    ``target`` becomes a folder of Parquet parts, one per partition, in the source's
    order (readable whole with ``pyarrow.parquet.read_table``).  It appears only once
    every part is written: a failed run leaves nothing behind.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise DataError(
            "predicting on a Dask cluster needs Dask distributed; "
            "install it with: pip install 'shipyard[dask]'"
        ) from exc
    if target.exists():
        raise DataError(f"output {target} already exists; choose another or remove it")
    partitions = partitions_of(source_files(source), rows=partition_rows)
    total = _known_total([partition.rows for partition in partitions])
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    done = 0
    try:
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=True,
            ) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            # Sent once to every worker, not with each task.
            package = client.scatter(model.package, broadcast=True)
            futures = [
                client.submit(_predict_partition, partition, package, str(partial), pure=False)
                for partition in partitions
            ]
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                done += future.result()
                future.release()
                if progress is not None:
                    progress(done, total)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return done


def _predict_partition(partition: Partition, package: ModelPackage, folder: str) -> int:
    chunk = read_partition(partition)
    table = pa.Table.from_pandas(_with_predictions(package, chunk), preserve_index=False)
    path = Path(folder, f"part-{partition.index:05d}.parquet")
    pq.write_table(table, path, use_dictionary=dictionary_columns(table.schema))
    return len(chunk)


def _with_predictions(package: ModelPackage, chunk: pd.DataFrame) -> pd.DataFrame:
    """``chunk`` with the model's ``prediction`` (and ``probability_<class>``) columns."""
    predictions = package.predict_frame(chunk)
    out = chunk.copy()
    out["prediction"] = predictions.values
    if predictions.probabilities is not None and predictions.classes is not None:
        for index, label in enumerate(predictions.classes):
            out[f"probability_{label}"] = predictions.probabilities[:, index]
    return out


def _chunks_checked(chunks: Iterator[pd.DataFrame], source: Path) -> Iterator[pd.DataFrame]:
    try:
        yield from chunks
    except (pd.errors.ParserError, UnicodeDecodeError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {source}: {exc}") from exc
