"""Tables a partition at a time: in this process, or as tasks of a Dask cluster.

A table (a CSV or Parquet file, or a folder of them) is cut into partitions: runs of a
Parquet file's row groups holding about ``rows`` rows, or one CSV file each.  A step
works on one partition at a time and merges what each gives (statistics, counts), so its
memory follows the partition, not the table.

When the step itself runs on a Dask worker (``pipeline.executor: dask``), its partitions
run as tasks of the same cluster, on the workers of its own machine (they read the same
files); everywhere else they run one after the other in the step's process.

>>> parts = partitions_of([Path("sales.parquet")], rows=1_000_000)  # doctest: +SKIP
>>> totals = map_partitions(count_rows, parts)  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shipyard.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "DEFAULT_PARTITION_ROWS",
    "Partition",
    "dictionary_columns",
    "is_parquet",
    "map_partitions",
    "partitions_of",
    "read_partition",
    "reading",
    "table_schema",
]

DEFAULT_PARTITION_ROWS = 1_000_000
PARQUET_SUFFIXES = (".parquet", ".pq")

Result = TypeVar("Result")


@dataclass(frozen=True)
class Partition:
    """Rows of one file: some of a Parquet file's row groups, or the whole file
    (``row_groups`` None; always so for CSV)."""

    path: str
    index: int
    row_groups: tuple[int, ...] | None = None
    rows: int | None = None
    """Known for Parquet (from its footer); None for CSV until it is read."""


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix), rather than CSV."""
    return path.name.lower().endswith(PARQUET_SUFFIXES)


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn what reading a table file raises into a ``DataError`` naming the file."""
    import pandas as pd
    import pyarrow as pa

    try:
        yield
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def partitions_of(files: Sequence[Path], *, rows: int) -> list[Partition]:
    """The partitions of ``files``, in order: consecutive row groups of about ``rows``
    rows (a row group is never cut), or one per CSV file."""
    if rows < 1:
        raise DataError(f"partitions must hold at least one row, not {rows}")
    partitions: list[Partition] = []
    for path in files:
        if not is_parquet(path):
            partitions.append(Partition(str(path), len(partitions)))
            continue
        metadata = _parquet_metadata(path)
        groups: list[int] = []
        held = 0
        for group in range(metadata.num_row_groups):
            group_rows = metadata.row_group(group).num_rows
            if groups and held + group_rows > rows:
                partitions.append(Partition(str(path), len(partitions), tuple(groups), held))
                groups, held = [], 0
            groups.append(group)
            held += group_rows
        if groups or metadata.num_row_groups == 0:
            partitions.append(Partition(str(path), len(partitions), tuple(groups), held))
    return partitions


def read_partition(partition: Partition, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``partition`` as a DataFrame (only ``columns``, when given)."""
    import pandas as pd
    import pyarrow.parquet as pq

    path = Path(partition.path)
    wanted = None if columns is None else list(columns)
    with reading(path):
        if not is_parquet(path):
            frame: pd.DataFrame = pd.read_csv(path, low_memory=False, usecols=wanted)
            return frame
        # Pre-buffered row groups stay cached while the file is open (apache/arrow #39808).
        parquet = pq.ParquetFile(path, pre_buffer=False)
        if partition.row_groups is None:
            table = parquet.read(columns=wanted)
        else:
            table = parquet.read_row_groups(list(partition.row_groups), columns=wanted)
        frame = table.to_pandas()
        return frame


def table_schema(files: Sequence[Path]) -> pa.Schema:
    """One schema for Parquet ``files`` whose types may differ (int64 in one file, double
    in another): the types every file's values fit in.  Only the footers are read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(path) for path in files]
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"the files of {files[0].parent} disagree on a column's type: {exc}"
        ) from exc


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in Parquet: text and categories, whose values
    repeat.  Trying it on numbers (pyarrow's default) takes longer than writing them."""
    import pyarrow as pa

    return [
        field.name
        for field in schema
        if pa.types.is_dictionary(field.type)
        or pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
    ]


def map_partitions(
    function: Callable[..., Result], partitions: Sequence[Partition], *args: Any
) -> list[Result]:
    """``function(partition, *args)`` for every partition, results in order.

    On a Dask worker the calls are tasks of its cluster (on the workers of this machine);
    elsewhere they run here, one after the other.  ``function`` must be importable by
    name (a module's function) to run on another worker.
    """
    client_scope = _worker_client()
    if client_scope is None:
        return [function(partition, *args) for partition in partitions]
    with client_scope as client:
        local = _workers_on_this_host(client)
        futures = [
            client.submit(function, partition, *args, workers=local, pure=False)
            for partition in partitions
        ]
        return [future.result() for future in futures]


def _worker_client() -> Any:
    """A client of the cluster this process is a worker of (None when it is not one).

    Its scope secedes the calling task from the worker's thread pool while it waits, so
    a cluster of one worker still runs the partitions."""
    if "distributed" not in sys.modules:  # a Dask worker has imported it long ago
        return None
    from distributed import get_worker, worker_client

    try:
        get_worker()
    except ValueError:
        return None
    return worker_client()


def _workers_on_this_host(client: Any) -> list[str]:
    from distributed import get_worker

    host = get_worker().address.rsplit(":", 1)[0]
    workers = client.scheduler_info()["workers"]
    return [address for address in workers if address.rsplit(":", 1)[0] == host]


def _parquet_metadata(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
