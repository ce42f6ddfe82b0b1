"""Batch prediction: a CSV or Parquet file of any size, in chunks, to Parquet or CSV.

Chunks go through the same ``ModelPackage`` (transform and predictor) as the server's
requests, so batch and online predictions of the same row are the same number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.errors import DataError
from shipyard.registry import LoadedModel

__all__ = ["predict_file"]

CHUNK_ROWS = 50_000
Progress = Callable[[int, int | None], None]


def _chunks(source: Path, rows: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    name = source.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            # Pre-buffered row groups stay cached until the reader is closed (apache/arrow
            # #39808): memory would grow with the file, not with the chunk.
            parquet = pq.ParquetFile(source, pre_buffer=False)
            total = parquet.metadata.num_rows
            batches = parquet.iter_batches(batch_size=rows)
            return (batch.to_pandas() for batch in batches), total
        if name.endswith((".csv", ".csv.gz")):
            # A CSV file's row count is unknown until it has been read.
            return iter(pd.read_csv(source, chunksize=rows, low_memory=False)), None
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {source}: {exc}") from exc
    raise DataError(f"{source} is not a CSV or Parquet file")


def predict_file(
    model: LoadedModel,
    source: Path,
    target: Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> int:
    """Predict every row of ``source`` into ``target``; returns the number of rows.

    The output holds the input columns plus ``prediction`` (and ``probability_<class>``
    for classifiers), written as Parquet or CSV by ``target``'s suffix.  It is written to
    a temporary name and renamed at the end: a failed run leaves no half-written file.
    """
    if not source.exists():
        raise DataError(f"input file {source} does not exist")
    as_csv = target.name.lower().endswith(".csv")
    if not as_csv and not target.name.lower().endswith((".parquet", ".pq")):
        raise DataError(f"output {target} must end in .parquet or .csv")
    chunks, total = _chunks(source, chunk_rows)
    partial = target.with_name(f".{target.name}.partial")
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    done = 0
    try:
        for chunk in _chunks_checked(chunks, source):
            predictions = model.package.predict_frame(chunk)
            out = chunk.copy()
            out["prediction"] = predictions.values
            if predictions.probabilities is not None and predictions.classes is not None:
                for index, label in enumerate(predictions.classes):
                    out[f"probability_{label}"] = predictions.probabilities[:, index]
            table = pa.Table.from_pandas(out, preserve_index=False)
            if writer is None:
                schema = table.schema  # every chunk is written with the first one's types
                writer = (
                    pacsv.CSVWriter(partial, schema)
                    if as_csv
                    else pq.ParquetWriter(partial, schema)
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


def _chunks_checked(chunks: Iterator[pd.DataFrame], source: Path) -> Iterator[pd.DataFrame]:
    try:
        yield from chunks
    except (pd.errors.ParserError, UnicodeDecodeError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {source}: {exc}") from exc
