"""Reading tables and splitting them: what ExampleGen does, usable on its own.

A source is a CSV or Parquet file, or a folder of them (read in name order, all with the
same columns).  Its version is the sha256 of its bytes, so the same data always has the
same version, wherever it is read from.

>>> frame = read_table(Path("houses.csv"))  # doctest: +SKIP
>>> train, evaluation = split_frame(frame, eval_fraction=0.2, seed=42)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.artifacts import file_digest
from shipyard.data.partitions import Partition, is_parquet, read_partition, reading
from shipyard.errors import DataError

if TYPE_CHECKING:
    # Imported by the readers: a source's digest (a cached run's) needs none of them.
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "TABLE_SUFFIXES",
    "read_table",
    "source_digest",
    "source_columns",
    "source_files",
    "split_frame",
    "split_mask",
]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def source_files(source: Path) -> list[Path]:
    """The table files a source names: itself, or the tables in a folder."""
    if source.is_file():
        if not source.name.endswith(TABLE_SUFFIXES):
            raise DataError(f"{source} is not a CSV or Parquet file ({', '.join(TABLE_SUFFIXES)})")
        return [source]
    if source.is_dir():
        files = sorted(
            p for p in source.rglob("*") if p.is_file() and p.name.endswith(TABLE_SUFFIXES)
        )
        if not files:
            raise DataError(f"folder {source} holds no CSV or Parquet files")
        return files
    raise DataError(f"data source {source} does not exist")


def source_digest(source: Path) -> str:
    """The version of a source: sha256 over its files' relative names and contents."""
    files = source_files(source)
    if len(files) == 1 and files[0] == source:
        return file_digest(source)
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.relative_to(source).as_posix().encode() + b"\0")
        hasher.update(file_digest(path).encode() + b"\n")
    return hasher.hexdigest()


def read_table(source: Path) -> pd.DataFrame:
    """Read a source into one DataFrame; files of a folder must share their columns."""
    import pandas as pd

    files = source_files(source)
    frames: list[pd.DataFrame] = []
    for path in files:
        frame = read_partition(Partition(str(path), 0))
        if frames:
            _check_columns(path, list(frame.columns), files[0], list(frames[0].columns))
        frames.append(frame)
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if table.columns.duplicated().any():
        duplicated = sorted(set(table.columns[table.columns.duplicated()]))
        raise DataError(f"{source} has duplicated column names: {duplicated}")
    if len(table) == 0:
        raise DataError(f"{source} has no rows")
    return table


def source_columns(files: list[Path]) -> list[str]:
    """The columns of a source's files, which must all have the same ones, in order.

    Only CSV headers and Parquet footers are read."""
    import pandas as pd
    import pyarrow.parquet as pq

    first: list[str] | None = None
    for path in files:
        with reading(path):
            if is_parquet(path):
                columns = list(pq.read_schema(path).names)
            else:
                columns = [str(c) for c in pd.read_csv(path, nrows=0).columns]
        if len(set(columns)) != len(columns):
            duplicated = sorted({c for c in columns if columns.count(c) > 1})
            raise DataError(f"{path} has duplicated column names: {duplicated}")
        if first is None:
            first = columns
        else:
            _check_columns(path, columns, files[0], first)
    assert first is not None, "source_files never returns an empty list"
    return first


def _check_columns(path: Path, columns: list[str], reference: Path, expected: list[str]) -> None:
    """Refuse a file of a source whose columns differ from its first file's."""
    if columns == expected:
        return
    missing = sorted(set(expected) - set(columns))
    extra = sorted(set(columns) - set(expected))
    order = "" if missing or extra else " (the same columns in another order)"
    raise DataError(
        f"{path} does not have the columns of {reference}: missing {missing or 'none'}, "
        f"extra {extra or 'none'}{order}"
    )


def split_frame(
    frame: pd.DataFrame, *, eval_fraction: float, seed: int, key: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, eval), deterministically.

    With ``key``, a row's split follows from a hash of its key alone, so it never moves
    between splits as the data grows; otherwise a seeded random permutation decides.
    """
    _check_eval_fraction(eval_fraction)
    if len(frame) < 2:
        raise DataError(f"cannot split {len(frame)} row(s) into training and evaluation")
    is_eval = split_mask(frame, eval_fraction=eval_fraction, seed=seed, key=key)
    if is_eval.all() or not is_eval.any():
        raise DataError("the split left training or evaluation empty; change eval_fraction")
    train = frame.loc[~is_eval].reset_index(drop=True)
    evaluation = frame.loc[is_eval].reset_index(drop=True)
    return train, evaluation


def split_mask(
    frame: pd.DataFrame,
    *,
    eval_fraction: float,
    seed: int | tuple[int, int],
    key: str | None = None,
) -> npt.NDArray[np.bool_]:
    """Which rows of ``frame`` go to evaluation (``split_frame``'s choice, as a mask).

    A partition of a larger table passes ``(seed, partition index)``: each partition
    draws its own rows, and the same partition always draws the same ones.
    """
    import numpy as np
    import pandas as pd

    _check_eval_fraction(eval_fraction)
    if key is not None:
        if key not in frame.columns:
            raise DataError(f"split key column '{key}' is not in the data")
        buckets = pd.util.hash_pandas_object(frame[key], index=False).to_numpy() % 10_000
        is_eval: npt.NDArray[np.bool_] = buckets < round(eval_fraction * 10_000)
        return is_eval
    rng = np.random.default_rng(seed if isinstance(seed, int) else list(seed))
    order = rng.permutation(len(frame))
    is_eval = np.zeros(len(frame), dtype=bool)
    if len(frame):
        is_eval[order[: max(1, round(eval_fraction * len(frame)))]] = True
    return is_eval


def _check_eval_fraction(eval_fraction: float) -> None:
    if not 0 < eval_fraction < 1:
        raise DataError(f"eval_fraction must be between 0 and 1, not {eval_fraction}")
