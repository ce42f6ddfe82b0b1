"""Schema skew: how far a window of data strays from the schema, as shares.

Validation (:mod:`shipyard.data.validation`) says *whether* a dataset breaks its schema;
monitoring needs *how much*, to plot over time and alert on: one value outside the domain
in a million is not the same event as a third of them.  So :func:`schema_skew` reports
shares, computed from statistics alone (frequent-items counts for the domain, the
quantile sketch's ranks for the range), so that a window of the prediction log is
measured without its rows.

Int against float is no skew: a column of ints arrives as floats in JSON requests.

>>> import pandas as pd
>>> from shipyard.data.schema import infer_schema
>>> from shipyard.data.statistics import compute_statistics
>>> schema = infer_schema(compute_statistics(pd.DataFrame({"c": ["a", "b"], "x": [1, 2]})))
>>> window = compute_statistics(pd.DataFrame({"c": ["a", "z", "z", None], "x": [1.0] * 4}))
>>> report = schema_skew(schema, window)
>>> round(report.unseen_share["c"], 3), report.missing_share["c"].current, report.type_mismatches
(0.667, 0.25, [])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shipyard.data.schema import ColumnSchema, Schema
from shipyard.data.statistics import ColumnStatistics, ColumnType, DatasetStatistics
from shipyard.data.statistics.sketches import NumericSummary

__all__ = ["MissingShare", "SkewReport", "TypeMismatch", "schema_skew"]


@dataclass(frozen=True)
class TypeMismatch:
    """A column whose values are not of the type the schema expects."""

    column: str
    expected: ColumnType
    found: ColumnType


@dataclass(frozen=True)
class MissingShare:
    """Share of a column's rows that are missing, beside the reference's and the limit."""

    current: float
    reference: float | None
    allowed: float


@dataclass(frozen=True)
class SkewReport:
    """Shares of a window's values that the schema does not expect, per column."""

    missing_columns: list[str]
    type_mismatches: list[TypeMismatch]
    unseen_share: dict[str, float]
    missing_share: dict[str, MissingShare]
    out_of_range_share: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return asdict(self)

    @property
    def worst(self) -> dict[str, float]:
        """The largest share of each kind and the number of missing and retyped columns."""
        return {
            "unseen_share": max(self.unseen_share.values(), default=0.0),
            "missing_share": max((s.current for s in self.missing_share.values()), default=0.0),
            "out_of_range_share": max(self.out_of_range_share.values(), default=0.0),
            "missing_columns": float(len(self.missing_columns)),
            "type_mismatches": float(len(self.type_mismatches)),
        }


def schema_skew(
    schema: Schema, current: DatasetStatistics, *, reference: DatasetStatistics | None = None
) -> SkewReport:
    """Skew of ``current`` against ``schema``; ``reference`` adds its missing shares.

    Columns the schema does not list are not skew (validation reports them); columns
    without present values only count as missing.
    """
    missing_columns: list[str] = []
    type_mismatches: list[TypeMismatch] = []
    unseen: dict[str, float] = {}
    missing: dict[str, MissingShare] = {}
    out_of_range: dict[str, float] = {}
    for expected in schema.columns:
        name = expected.name
        column = current.columns.get(name)
        if column is None or column.present == 0:
            if expected.required:
                missing_columns.append(name)
            if column is None:
                continue
        before = reference.columns.get(name) if reference is not None else None
        missing[name] = MissingShare(
            current=column.missing_fraction,
            reference=None if before is None else before.missing_fraction,
            allowed=expected.max_missing_fraction,
        )
        if column.present == 0:
            continue
        if column.is_numeric != expected.is_numeric or (
            not expected.is_numeric and column.type != expected.type
        ):
            type_mismatches.append(TypeMismatch(name, expected.type, column.type))
            continue
        if expected.domain is not None:
            unseen[name] = _unseen_share(column, expected.domain)
        if column.numeric is not None and (expected.min is not None or expected.max is not None):
            out_of_range[name] = out_of_range_share(column.numeric, expected)
    return SkewReport(
        missing_columns=missing_columns,
        type_mismatches=type_mismatches,
        unseen_share=unseen,
        missing_share=missing,
        out_of_range_share=out_of_range,
    )


def out_of_range_share(numeric: NumericSummary, expected: ColumnSchema) -> float:
    """Share of values below the schema's ``min`` or above its ``max``, from sketch ranks.

    Exactly 0 when the values' own minimum and maximum lie inside the bounds.
    """
    low = expected.min if expected.min is not None else -float("inf")
    high = expected.max if expected.max is not None else float("inf")
    outside = 0.0
    if numeric.min < low:
        outside += numeric.rank(low)
    if numeric.max > high:
        outside += 1.0 - numeric.rank(high, inclusive=True)
    return min(max(outside, 0.0), 1.0)


def _unseen_share(column: ColumnStatistics, domain: list[str]) -> float:
    """Share of present values outside ``domain``, from the frequent-items counts."""
    assert column.categorical is not None
    total = column.categorical.total
    known = sum(column.categorical.count(value) for value in set(domain))
    return min(max(1.0 - known / total, 0.0), 1.0) if total else 0.0
