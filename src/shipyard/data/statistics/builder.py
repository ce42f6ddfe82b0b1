"""Computing statistics chunk by chunk: each chunk's statistics merge into the total."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any, cast

import numpy as np
import pandas as pd
from datasketches import frequent_strings_sketch, hll_sketch
from pandas.api.types import is_object_dtype

from shipyard.data.statistics.column_types import ColumnType, classify
from shipyard.data.statistics.dataset import ColumnStatistics, DatasetStatistics
from shipyard.data.statistics.distinct import may_change_sketch
from shipyard.data.statistics.sketches import CategoricalSummary, FloatArray, NumericSummary
from shipyard.errors import DataError

__all__ = ["StatisticsBuilder", "compute_statistics"]

# Below this many values feeding every value to the distinct sketch is as cheap as
# deduplicating first.
_DEDUPE_MIN_SIZE = 4096


class StatisticsBuilder:
    """Accumulates statistics over chunks of a table.

    >>> import pandas as pd
    >>> builder = StatisticsBuilder()
    >>> builder.update(pd.DataFrame({"x": [1.0, 2.0]}))
    >>> builder.update(pd.DataFrame({"x": [3.0, None]}))
    >>> builder.result()["x"].missing
    1

    ``quantile_k`` sets the KLL sketch size (rank error about 1.3% at 200),
    ``frequency_lg_size`` the log2 size of the frequent-items map (it tracks up to
    0.75 * 2**lg values exactly), ``distinct_lg_k`` the HyperLogLog size (error about
    1.6% at 12).
    """

    def __init__(
        self, *, quantile_k: int = 200, frequency_lg_size: int = 10, distinct_lg_k: int = 12
    ) -> None:
        self.quantile_k = quantile_k
        self.frequency_lg_size = frequency_lg_size
        self.distinct_lg_k = distinct_lg_k
        self._statistics: DatasetStatistics | None = None

    def update(self, chunk: pd.DataFrame) -> None:
        """Add the rows of ``chunk``."""
        self._add(self._chunk_statistics(_as_frame(chunk)))

    def merge(self, other: StatisticsBuilder) -> None:
        """Add everything ``other`` has seen."""
        if other._statistics is not None:
            self._add(other._statistics)

    def result(self) -> DatasetStatistics:
        """Statistics of every row seen so far."""
        if self._statistics is None:
            return DatasetStatistics(num_rows=0, columns={})
        return self._statistics

    def _add(self, statistics: DatasetStatistics) -> None:
        if self._statistics is None:
            self._statistics = statistics
        else:
            self._statistics = self._statistics.merge(statistics)

    def _chunk_statistics(self, frame: pd.DataFrame) -> DatasetStatistics:
        names = [str(name) for name in frame.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise DataError(f"the table has duplicate column names: {', '.join(duplicates)}")
        columns = {
            name: self._column_statistics(name, frame.iloc[:, position])
            for position, name in enumerate(names)
        }
        return DatasetStatistics(num_rows=len(frame), columns=columns)

    def _column_statistics(self, name: str, series: pd.Series[Any]) -> ColumnStatistics:
        column_type, present = classify(series)
        distinct = hll_sketch(self.distinct_lg_k)
        if present is not None:
            _update_distinct(distinct, _distinct_feed(present, self.distinct_lg_k).tolist())
            return ColumnStatistics(
                name=name,
                type=column_type,
                count=len(series),
                missing=len(series) - present.size,
                numeric=NumericSummary.of(present, quantile_k=self.quantile_k),
                categorical=None,
                distinct=distinct,
            )
        counts = _text_counts(series, column_type)
        frequencies = frequent_strings_sketch(self.frequency_lg_size)
        for value, weight in counts.items():
            frequencies.update(value, weight)
        _update_distinct(distinct, counts)
        return ColumnStatistics(
            name=name,
            type=column_type,
            count=len(series),
            missing=len(series) - sum(counts.values()),
            numeric=None,
            categorical=CategoricalSummary(frequencies),
            distinct=distinct,
        )


def compute_statistics(
    data: pd.DataFrame | Iterable[pd.DataFrame],
    *,
    quantile_k: int = 200,
    frequency_lg_size: int = 10,
    distinct_lg_k: int = 12,
) -> DatasetStatistics:
    """Statistics of a DataFrame or of an iterable of chunks of one table.

    Chunks may also be pyarrow Tables or RecordBatches.
    """
    builder = StatisticsBuilder(
        quantile_k=quantile_k, frequency_lg_size=frequency_lg_size, distinct_lg_k=distinct_lg_k
    )
    whole = isinstance(data, pd.DataFrame) or _is_arrow_table(data)
    chunks: Iterable[Any] = [data] if whole else data
    for chunk in chunks:
        builder.update(chunk)
    return builder.result()


def _text_counts(series: pd.Series[Any], column_type: ColumnType) -> dict[str, int]:
    """Count of each present value, as text."""
    if is_object_dtype(series.dtype) and column_type == "str":
        # Object columns may mix 1, 1.0 and True, which compare equal; text keeps them apart.
        counts = series.dropna().astype(str).value_counts()
    else:
        counts = series.value_counts(dropna=True)
    if isinstance(series.dtype, pd.StringDtype) or is_object_dtype(series.dtype):
        return dict(zip(counts.index.tolist(), counts.tolist(), strict=True))
    merged: collections.Counter[str] = collections.Counter()
    for value, count in zip(counts.index.tolist(), counts.tolist(), strict=True):
        if count > 0:  # categoricals list unused categories with count 0
            merged[str(value)] += int(count)
    return dict(merged)


def _distinct_candidates(present: FloatArray) -> FloatArray:
    """``present`` without repeats when that saves work for the distinct-count sketch."""
    if present.size < _DEDUPE_MIN_SIZE:
        return present
    sample = present[:1024]
    if np.unique(sample).size > 0.9 * sample.size:
        return present  # almost every value differs: deduplicating would not pay
    return np.asarray(pd.unique(present), dtype=np.float64)


def _distinct_feed(present: FloatArray, lg_k: int) -> FloatArray:
    """The values of ``present`` that could change the distinct-count sketch, in order."""
    candidates = _distinct_candidates(present)
    keep = may_change_sketch(candidates, lg_k)
    return candidates if keep is None else candidates[keep]


def _update_distinct(sketch: Any, values: Iterable[Any]) -> None:
    # The sketch has no bulk update; draining a map is the fastest loop Python offers.
    collections.deque(map(sketch.update, values), maxlen=0)


def _as_frame(chunk: Any) -> pd.DataFrame:
    if isinstance(chunk, pd.DataFrame):
        return chunk
    if _is_arrow_table(chunk):
        return cast(pd.DataFrame, chunk.to_pandas(split_blocks=True))
    raise DataError(
        f"statistics need a pandas DataFrame or a pyarrow Table, got {type(chunk).__name__}"
    )


def _is_arrow_table(data: object) -> bool:
    import pyarrow as pa

    return isinstance(data, pa.Table | pa.RecordBatch)
