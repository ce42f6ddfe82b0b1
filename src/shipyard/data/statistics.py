"""Mergeable dataset statistics.

Statistics are computed chunk by chunk and merged: counts and moments exactly (Chan's
parallel formula for mean and variance), quantiles, frequent values and distinct counts
through Apache DataSketches.  Two results computed on different partitions merge into the
statistics of their union, so the same code runs in process or partitioned over a cluster.

>>> import pandas as pd
>>> stats = compute_statistics(pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", "a"]}))
>>> stats["x"].type, stats["x"].mean, stats["c"].categorical.top(1)
('int', 2.0, [('a', 2)])

Rules worth knowing:

- A column's type is one of ``int``, ``float``, ``bool`` and ``str``; ``str`` covers
  categorical and free text, and mixed object columns.  Text that looks numeric stays
  ``str``.  A float column whose values are all whole numbers is ``int``: pandas turns
  int columns with missing values into floats.  (Deciding by dtype alone would not merge:
  a chunk without NaN would say ``int`` and a chunk with NaN ``float``.)  Dates and
  other dtypes are summarised as text.
- NaN, None and +-inf count as missing.
- ``std`` is the population standard deviation (ddof=0), which merges exactly.
- When partitions disagree on a type, ``int`` and ``float`` merge to ``float`` and any other
  mix merges to ``str``; a partition without values takes the other's type.  A numeric
  partition merged into a ``str`` column adds to its counts and distinct count only.
"""

from __future__ import annotations

import base64
import binascii
import collections
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from datasketches import (
    frequent_items_error_type,
    frequent_strings_sketch,
    hll_sketch,
    hll_union,
    kll_doubles_sketch,
)
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_object_dtype,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.errors import DataError

__all__ = [
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
]

ColumnType = Literal["int", "float", "bool", "str"]
NUMERIC_TYPES: frozenset[ColumnType] = frozenset({"int", "float"})

#: Ranks reported by :meth:`NumericSummary.quantiles` and in serialised summaries.
DEFAULT_QUANTILE_RANKS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

STATISTICS_FORMAT = "shipyard.statistics/1"

FloatArray = npt.NDArray[np.float64]

# Object columns whose inferred content is one of these are numeric.
_OBJECT_INTEGER = frozenset({"integer"})
_OBJECT_FLOAT = frozenset({"floating", "mixed-integer-float", "decimal"})
# Below this many values feeding every value to the distinct sketch is as cheap as
# deduplicating first.
_DEDUPE_MIN_SIZE = 4096


@dataclass(frozen=True, eq=False)
class Histogram:
    """Approximate counts of values between consecutive ``edges``."""

    edges: list[float]
    counts: list[float]


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """Moments, extremes and a KLL quantile sketch of the present values of a column."""

    count: int
    mean: float
    m2: float
    min: float
    max: float
    sketch: Any  # datasketches.kll_doubles_sketch

    @property
    def variance(self) -> float:
        """Population variance."""
        return self.m2 / self.count

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return math.sqrt(max(self.variance, 0.0))

    @property
    def rank_error(self) -> float:
        """Normalised rank error of the quantile sketch (about 99% confidence)."""
        return float(self.sketch.normalized_rank_error(False))

    def quantile(self, rank: float) -> float:
        """Approximate value at normalised ``rank`` in [0, 1]."""
        return self.quantiles([rank])[0]

    def quantiles(self, ranks: Sequence[float] = DEFAULT_QUANTILE_RANKS) -> list[float]:
        """Approximate values at each normalised rank."""
        if any(not 0.0 <= rank <= 1.0 for rank in ranks):
            raise ValueError(f"quantile ranks must lie in [0, 1], got {list(ranks)}")
        return [float(value) for value in self.sketch.get_quantiles(list(ranks))]

    def rank(self, value: float, *, inclusive: bool = False) -> float:
        """Approximate fraction of values below ``value`` (or equal, when ``inclusive``)."""
        return float(self.sketch.get_rank(value, inclusive))

    def masses(self, split_points: Sequence[float], *, inclusive: bool = False) -> FloatArray:
        """Approximate fraction of values in each interval cut by ``split_points``.

        ``split_points`` must increase strictly; the result has one more entry than them,
        the first and last covering everything below and above.
        """
        if not split_points:
            return np.ones(1)
        cdf = np.asarray(self.sketch.get_cdf(list(split_points), inclusive), dtype=np.float64)
        return np.diff(cdf, prepend=0.0).clip(min=0.0)

    def histogram(self, bins: int = 10) -> Histogram:
        """Equal-width histogram between min and max, derived from the quantile sketch."""
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        edges = np.unique(np.linspace(self.min, self.max, bins + 1))
        if edges.size < 2:
            return Histogram(edges=[self.min, self.max], counts=[float(self.count)])
        counts = self.masses(edges[1:-1].tolist()) * self.count
        return Histogram(edges=edges.tolist(), counts=counts.tolist())

    def merge(self, other: NumericSummary) -> NumericSummary:
        """Summary of both inputs' values; neither input changes."""
        count = self.count + other.count
        delta = other.mean - self.mean
        with np.errstate(over="ignore", invalid="ignore"):
            mean = self.mean + delta * (other.count / count)
            m2 = self.m2 + other.m2 + delta * delta * (self.count * other.count / count)
        sketch = kll_doubles_sketch(max(self.sketch.k, other.sketch.k))
        sketch.merge(self.sketch)
        sketch.merge(other.sketch)
        return NumericSummary(
            count=count,
            mean=float(mean),
            m2=float(m2),
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            sketch=sketch,
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """Frequent values of a text or bool column, from a frequent-items sketch."""

    sketch: Any  # datasketches.frequent_strings_sketch

    @property
    def total(self) -> int:
        """Number of values summarised."""
        return int(self.sketch.total_weight)

    @property
    def is_exact(self) -> bool:
        """Whether every distinct value is tracked with its exact count."""
        return all(lower == upper for _, _, lower, upper in self._items())

    def value_counts(self) -> dict[str, int]:
        """Estimated count of every tracked value, most frequent first."""
        return {value: int(estimate) for value, estimate, _, _ in self._items()}

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most frequent values with their estimated counts."""
        return list(self.value_counts().items())[:n]

    def count(self, value: str) -> int:
        """Estimated count of ``value`` (0 when never seen)."""
        return int(self.sketch.get_estimate(value))

    def merge(self, other: CategoricalSummary) -> CategoricalSummary:
        """Summary of both inputs' values; neither input changes."""
        sketch = _copy_frequencies(self.sketch)
        sketch.merge(other.sketch)
        return CategoricalSummary(sketch)

    def _items(self) -> list[tuple[str, int, int, int]]:
        items = self.sketch.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        # Ties are broken by value so that results do not depend on insertion order.
        return sorted(items, key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True, eq=False)
class ColumnStatistics:
    """Statistics of one column; ``numeric`` or ``categorical`` is set by its type."""

    name: str
    type: ColumnType
    count: int
    missing: int
    numeric: NumericSummary | None
    categorical: CategoricalSummary | None
    distinct: Any  # datasketches.hll_sketch

    @property
    def present(self) -> int:
        """Number of values that are not missing."""
        return self.count - self.missing

    @property
    def missing_fraction(self) -> float:
        """Fraction of rows where the column is missing (0 for no rows)."""
        return self.missing / self.count if self.count else 0.0

    @property
    def distinct_count(self) -> int:
        """Estimated number of distinct present values."""
        return round(float(self.distinct.get_estimate()))

    @property
    def is_numeric(self) -> bool:
        """Whether the column holds ints or floats."""
        return self.type in NUMERIC_TYPES

    @property
    def min(self) -> float | None:
        """Smallest value of a numeric column."""
        return self.numeric.min if self.numeric else None

    @property
    def max(self) -> float | None:
        """Largest value of a numeric column."""
        return self.numeric.max if self.numeric else None

    @property
    def mean(self) -> float | None:
        """Mean of a numeric column."""
        return self.numeric.mean if self.numeric else None

    @property
    def std(self) -> float | None:
        """Population standard deviation of a numeric column."""
        return self.numeric.std if self.numeric else None

    def merge(self, other: ColumnStatistics) -> ColumnStatistics:
        """Statistics of the rows of both inputs; neither input changes."""
        if other.name != self.name:
            raise DataError(f"cannot merge statistics of column {other.name!r} into {self.name!r}")
        column_type = _merged_type(self, other)
        numeric = categorical = None
        if column_type in NUMERIC_TYPES:
            numeric = _merge_optional(self.numeric, other.numeric)
        else:
            categorical = _merge_optional(self.categorical, other.categorical)
        union = hll_union(max(self.distinct.lg_config_k, other.distinct.lg_config_k))
        union.update(self.distinct)
        union.update(other.distinct)
        return ColumnStatistics(
            name=self.name,
            type=column_type,
            count=self.count + other.count,
            missing=self.missing + other.missing,
            numeric=numeric,
            categorical=categorical,
            distinct=union.get_result(),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form; sketches are base64 text, ``summary`` is for people."""
        record = _ColumnRecord(
            name=self.name,
            type=self.type,
            count=self.count,
            missing=self.missing,
            numeric=None
            if self.numeric is None
            else _NumericRecord(
                count=self.numeric.count,
                mean=self.numeric.mean,
                m2=self.numeric.m2,
                min=self.numeric.min,
                max=self.numeric.max,
                sketch=_encode(self.numeric.sketch.serialize()),
            ),
            frequencies=None
            if self.categorical is None
            else _encode(self.categorical.sketch.serialize()),
            distinct=_encode(self.distinct.serialize_compact()),
        )
        return {**record.model_dump(), "summary": self._summary()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnStatistics:
        """Read what :meth:`to_dict` wrote; raise ``DataError`` naming a bad field."""
        record = _validate(_ColumnRecord, data, "column statistics")
        return record.to_statistics()

    def _summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "present": self.present,
            "missing_fraction": self.missing_fraction,
            "distinct_count": self.distinct_count,
        }
        if self.numeric is not None:
            histogram = self.numeric.histogram()
            summary |= {
                "min": self.numeric.min,
                "max": self.numeric.max,
                "mean": self.numeric.mean,
                "std": self.numeric.std,
                "quantiles": dict(
                    zip(map(str, DEFAULT_QUANTILE_RANKS), self.numeric.quantiles(), strict=True)
                ),
                "histogram": {"edges": histogram.edges, "counts": histogram.counts},
            }
        if self.categorical is not None:
            summary["top_values"] = [list(item) for item in self.categorical.top(20)]
        return summary


@dataclass(frozen=True, eq=False)
class DatasetStatistics:
    """Statistics of a table: its row count and one :class:`ColumnStatistics` per column."""

    num_rows: int
    columns: dict[str, ColumnStatistics]

    def __getitem__(self, name: str) -> ColumnStatistics:
        try:
            return self.columns[name]
        except KeyError:
            known = ", ".join(self.columns) or "none"
            raise KeyError(f"no statistics for column {name!r}; columns are: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[ColumnStatistics]:
        """The columns' statistics, in order (``in`` tests column names)."""
        return iter(self.columns.values())

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def column_names(self) -> list[str]:
        """Column names in order of first appearance."""
        return list(self.columns)

    def merge(self, other: DatasetStatistics) -> DatasetStatistics:
        """Statistics of the rows of both inputs.

        A column that one side lacks counts as missing on all of that side's rows, as it
        would be after concatenating the two tables.
        """
        columns: dict[str, ColumnStatistics] = {}
        for name in [*self.columns, *(n for n in other.columns if n not in self.columns)]:
            mine, theirs = self.columns.get(name), other.columns.get(name)
            if mine is None:
                assert theirs is not None
                mine = _absent_column(theirs, self.num_rows)
            if theirs is None:
                theirs = _absent_column(mine, other.num_rows)
            columns[name] = mine.merge(theirs)
        return DatasetStatistics(num_rows=self.num_rows + other.num_rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form, suitable for an artifact file."""
        return {
            "format": STATISTICS_FORMAT,
            "num_rows": self.num_rows,
            "columns": [column.to_dict() for column in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetStatistics:
        """Read what :meth:`to_dict` wrote; raise ``DataError`` naming a bad field."""
        record = _validate(_StatisticsRecord, data, "dataset statistics")
        if record.format != STATISTICS_FORMAT:
            raise DataError(
                f"dataset statistics have format {record.format!r}; "
                f"this version of shipyard reads {STATISTICS_FORMAT!r}"
            )
        columns: dict[str, ColumnStatistics] = {}
        for column in record.columns:
            if column.name in columns:
                raise DataError(f"dataset statistics list column {column.name!r} twice")
            if column.count != record.num_rows:
                raise DataError(
                    f"statistics of column {column.name!r} count {column.count} rows, "
                    f"the dataset {record.num_rows}"
                )
            columns[column.name] = column.to_statistics()
        return cls(num_rows=record.num_rows, columns=columns)


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
        column_type, present = _classify(series)
        distinct = hll_sketch(self.distinct_lg_k)
        if present is not None:
            _update_distinct(distinct, _distinct_candidates(present).tolist())
            return ColumnStatistics(
                name=name,
                type=column_type,
                count=len(series),
                missing=len(series) - present.size,
                numeric=self._numeric_summary(present),
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

    def _numeric_summary(self, present: FloatArray) -> NumericSummary | None:
        if present.size == 0:
            return None
        sketch = kll_doubles_sketch(self.quantile_k)
        # The binding accepts only writable arrays; pandas hands out read-only views.
        sketch.update(np.require(present, np.float64, ["C", "W"]))
        with np.errstate(over="ignore", invalid="ignore"):
            mean = float(present.mean())
            m2 = float(np.square(present - mean).sum())
        return NumericSummary(
            count=int(present.size),
            mean=mean,
            m2=m2,
            min=float(present.min()),
            max=float(present.max()),
            sketch=sketch,
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


def infer_column_type(series: pd.Series[Any]) -> ColumnType:
    """The shipyard type of a pandas column (see the module notes)."""
    return _classify(series)[0]


def _classify(series: pd.Series[Any]) -> tuple[ColumnType, FloatArray | None]:
    """The column's type and, for numeric columns, its present values as floats."""
    dtype = series.dtype
    if is_bool_dtype(dtype):
        return "bool", None
    if is_integer_dtype(dtype):
        return "int", _present_floats(series)
    if is_float_dtype(dtype):
        values = _present_floats(series)
        return _float_or_int(values), values
    if is_object_dtype(dtype):
        content = infer_dtype(series, skipna=True)
        if content == "boolean":
            return "bool", None
        if content in _OBJECT_INTEGER:
            return "int", _present_floats(series)
        if content in _OBJECT_FLOAT:
            values = _present_floats(series)
            return _float_or_int(values), values
    # Text, categoricals, dates, complex numbers and mixed objects are summarised as text.
    return "str", None


def _present_floats(series: pd.Series[Any]) -> FloatArray:
    """The finite values of a numeric column as floats; NaN, None and +-inf are dropped."""
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"column {series.name!r} has numbers that do not fit a float") from exc
    finite = np.isfinite(values)
    return values if finite.all() else values[finite]


def _float_or_int(present: FloatArray) -> ColumnType:
    """``int`` for floats that are all whole numbers, such as pandas' ints with NaN."""
    return "int" if present.size and np.array_equal(present, np.trunc(present)) else "float"


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


def _update_distinct(sketch: Any, values: Iterable[Any]) -> None:
    # The sketch has no bulk update; draining a map is the fastest loop Python offers.
    collections.deque(map(sketch.update, values), maxlen=0)


def _merged_type(left: ColumnStatistics, right: ColumnStatistics) -> ColumnType:
    if left.type == right.type:
        return left.type
    if left.present == 0 and right.present > 0:
        return right.type
    if right.present == 0 and left.present > 0:
        return left.type
    if {left.type, right.type} == NUMERIC_TYPES:
        return "float"
    return "str"


_Summary = TypeVar("_Summary", NumericSummary, CategoricalSummary)


def _merge_optional(left: _Summary | None, right: _Summary | None) -> _Summary | None:
    if left is None:
        return right
    if right is None:
        return left
    return left.merge(right)


def _absent_column(like: ColumnStatistics, rows: int) -> ColumnStatistics:
    """Statistics of ``rows`` rows on which a column was absent, i.e. missing."""
    return ColumnStatistics(
        name=like.name,
        type=like.type,
        count=rows,
        missing=rows,
        numeric=None,
        categorical=None,
        distinct=hll_sketch(like.distinct.lg_config_k),
    )


def _copy_frequencies(sketch: Any) -> Any:
    return frequent_strings_sketch.deserialize(sketch.serialize())


def _as_frame(chunk: Any) -> pd.DataFrame:
    if isinstance(chunk, pd.DataFrame):
        return chunk
    if _is_arrow_table(chunk):
        return cast(pd.DataFrame, chunk.to_pandas())
    raise DataError(
        f"statistics need a pandas DataFrame or a pyarrow Table, got {type(chunk).__name__}"
    )


def _is_arrow_table(data: object) -> bool:
    import pyarrow as pa

    return isinstance(data, pa.Table | pa.RecordBatch)


def _encode(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")


def _decode_sketch(text: str, sketch_class: Any, field: str) -> Any:
    try:
        return sketch_class.deserialize(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, IndexError, RuntimeError) as exc:
        raise DataError(f"{field} is not a valid serialised sketch: {exc}") from exc


class _NumericRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1)
    mean: float
    m2: float
    min: float
    max: float
    sketch: str


class _ColumnRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")  # "summary" is derived and not read back

    name: str
    type: ColumnType
    count: int
    missing: int
    numeric: _NumericRecord | None
    frequencies: str | None
    distinct: str

    def to_statistics(self) -> ColumnStatistics:
        where = f"statistics of column {self.name!r}"
        if not 0 <= self.missing <= self.count:
            raise DataError(f"{where}: missing={self.missing} must lie in [0, count={self.count}]")
        numeric = None
        if self.numeric is not None:
            numeric = NumericSummary(
                **self.numeric.model_dump(exclude={"sketch"}),
                sketch=_decode_sketch(
                    self.numeric.sketch, kll_doubles_sketch, f"{where}: numeric.sketch"
                ),
            )
        categorical = None
        if self.frequencies is not None:
            categorical = CategoricalSummary(
                _decode_sketch(self.frequencies, frequent_strings_sketch, f"{where}: frequencies")
            )
        return ColumnStatistics(
            name=self.name,
            type=self.type,
            count=self.count,
            missing=self.missing,
            numeric=numeric,
            categorical=categorical,
            distinct=_decode_sketch(self.distinct, hll_sketch, f"{where}: distinct"),
        )


class _StatisticsRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    num_rows: int
    columns: list[_ColumnRecord]


_Record = TypeVar("_Record", bound=BaseModel)


def _validate(model: type[_Record], data: Mapping[str, Any], what: str) -> _Record:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        raise DataError(f"{what}: field {field!r}: {problem['msg']}") from exc
