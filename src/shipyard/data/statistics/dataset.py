"""Statistics of a column and of a table, and how they merge."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from datasketches import frequent_strings_sketch, hll_sketch, hll_union, kll_doubles_sketch

from shipyard.data.statistics.column_types import NUMERIC_TYPES, ColumnType, merged_type
from shipyard.data.statistics.formatting import (
    STATISTICS_FORMAT,
    ColumnRecord,
    NumericRecord,
    StatisticsRecord,
    decode_sketch,
    encode_sketch,
    validate_record,
)
from shipyard.data.statistics.sketches import (
    DEFAULT_QUANTILE_RANKS,
    CategoricalSummary,
    NumericSummary,
    merge_optional,
)
from shipyard.errors import DataError

__all__ = ["ColumnStatistics", "DatasetStatistics"]


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

    def __reduce__(self) -> tuple[Any, ...]:
        # The distinct-count sketch is a native object: it travels as bytes.
        fields = (self.name, self.type, self.count, self.missing, self.numeric, self.categorical)
        return (_column_statistics, (*fields, self.distinct.serialize_compact()))

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
        column_type = merged_type(self.type, self.present, other.type, other.present)
        numeric = categorical = None
        if column_type in NUMERIC_TYPES:
            numeric = merge_optional(self.numeric, other.numeric)
        else:
            categorical = merge_optional(self.categorical, other.categorical)
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
        record = ColumnRecord(
            name=self.name,
            type=self.type,
            count=self.count,
            missing=self.missing,
            numeric=None
            if self.numeric is None
            else NumericRecord(
                count=self.numeric.count,
                mean=self.numeric.mean,
                m2=self.numeric.m2,
                min=self.numeric.min,
                max=self.numeric.max,
                sketch=encode_sketch(self.numeric.sketch.serialize()),
            ),
            frequencies=None
            if self.categorical is None
            else encode_sketch(self.categorical.sketch.serialize()),
            distinct=encode_sketch(self.distinct.serialize_compact()),
        )
        return {**record.model_dump(), "summary": people_summary(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnStatistics:
        """Read what :meth:`to_dict` wrote; raise ``DataError`` naming a bad field."""
        return _column_from_record(validate_record(ColumnRecord, data, "column statistics"))


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
        record = validate_record(StatisticsRecord, data, "dataset statistics")
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
            columns[column.name] = _column_from_record(column)
        return cls(num_rows=record.num_rows, columns=columns)


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


def _column_statistics(
    name: str,
    column_type: ColumnType,
    count: int,
    missing: int,
    numeric: NumericSummary | None,
    categorical: CategoricalSummary | None,
    distinct: bytes,
) -> ColumnStatistics:
    return ColumnStatistics(
        name, column_type, count, missing, numeric, categorical, hll_sketch.deserialize(distinct)
    )


def _column_from_record(record: ColumnRecord) -> ColumnStatistics:
    """The statistics a validated record describes; ``DataError`` on a bad sketch."""
    where = f"statistics of column {record.name!r}"
    if not 0 <= record.missing <= record.count:
        raise DataError(f"{where}: missing={record.missing} must lie in [0, count={record.count}]")
    numeric = None
    if record.numeric is not None:
        numeric = NumericSummary(
            **record.numeric.model_dump(exclude={"sketch"}),
            sketch=decode_sketch(
                record.numeric.sketch, kll_doubles_sketch, f"{where}: numeric.sketch"
            ),
        )
    categorical = None
    if record.frequencies is not None:
        categorical = CategoricalSummary(
            decode_sketch(record.frequencies, frequent_strings_sketch, f"{where}: frequencies")
        )
    return ColumnStatistics(
        name=record.name,
        type=record.type,
        count=record.count,
        missing=record.missing,
        numeric=numeric,
        categorical=categorical,
        distinct=decode_sketch(record.distinct, hll_sketch, f"{where}: distinct"),
    )


def people_summary(column: ColumnStatistics) -> dict[str, Any]:
    """Counts, moments, quantiles, a histogram and top values, for people to read."""
    summary: dict[str, Any] = {
        "present": column.present,
        "missing_fraction": column.missing_fraction,
        "distinct_count": column.distinct_count,
    }
    if column.numeric is not None:
        histogram = column.numeric.histogram()
        summary |= {
            "min": column.numeric.min,
            "max": column.numeric.max,
            "mean": column.numeric.mean,
            "std": column.numeric.std,
            "quantiles": dict(
                zip(map(str, DEFAULT_QUANTILE_RANKS), column.numeric.quantiles(), strict=True)
            ),
            "histogram": {"edges": histogram.edges, "counts": histogram.counts},
        }
    if column.categorical is not None:
        summary["top_values"] = [list(item) for item in column.categorical.top(20)]
    return summary
