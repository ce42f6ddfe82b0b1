"""What a dataset is expected to look like, inferred from statistics and kept as YAML.

A schema is a starting point that a person reviews and edits; ``infer_schema`` writes down
what it saw, a little loosened so that the next sample of the same data passes:

- ``required``: the column must be present.  Inferred true for every column that had at
  least one value; a column that was entirely empty is optional.  How many values may be
  missing is a separate bound, ``max_missing_fraction``.
- ``max_missing_fraction``: 0 when no value was missing (any missing value is then an
  anomaly, as a model trained without missing values may not handle them), otherwise
  twice the observed fraction, capped at 1.
- ``min``/``max`` (numeric columns): the observed range widened by ``range_margin`` (10%)
  of its span on each side, rounded outward; never below 0 when no value was negative.
  Int columns get int bounds.
- ``domain`` (text columns): the sorted list of values, when there are at most
  ``max_domain_size`` (100) of them; otherwise none and any value is accepted.

>>> import pandas as pd
>>> from shipyard.data.statistics import compute_statistics
>>> schema = infer_schema(compute_statistics(pd.DataFrame({"n": [1, 5], "c": ["a", "b"]})))
>>> schema.column("n").min, schema.column("n").max, schema.column("c").domain
(0, 6, ['a', 'b'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.data.statistics import ColumnStatistics, ColumnType, DatasetStatistics
from shipyard.data.statistics.column_types import NUMERIC_TYPES
from shipyard.errors import DataError, SchemaMismatch

__all__ = ["ColumnSchema", "Schema", "infer_schema"]

_YAML_HEADER = """\
# shipyard schema: what the data is expected to look like. Edit freely.
#   type                  int | float | bool | str
#   required              the column must be present
#   max_missing_fraction  largest allowed share of missing values, 0..1
#   min, max              allowed range of a numeric column (optional)
#   domain                allowed values of a str column (optional; absent = any)
"""

# Significant digits kept when rounding inferred float bounds outward.
_BOUND_DIGITS = 6
# An observed missing fraction is doubled to leave room for sampling noise.
_MISSING_FRACTION_FACTOR = 2.0


class ColumnSchema(BaseModel):
    """Expectations about one column."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(min_length=1)
    type: ColumnType
    required: bool = True
    max_missing_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    min: int | float | None = None
    max: int | float | None = None
    domain: list[str] | None = None

    @property
    def is_numeric(self) -> bool:
        """Whether the column holds ints or floats."""
        return self.type in NUMERIC_TYPES

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if not self.is_numeric and (self.min is not None or self.max is not None):
            raise ValueError(f"min/max apply to int and float columns, not {self.type}")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"bounds must be finite numbers, got {bound}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.domain is not None:
            if self.type != "str":
                raise ValueError(f"domain applies to str columns, not {self.type}")
            repeated = sorted({value for value in self.domain if self.domain.count(value) > 1})
            if repeated:
                raise ValueError(f"domain lists {', '.join(map(repr, repeated))} more than once")
        return self


class Schema(BaseModel):
    """Ordered expectations about the columns of a dataset."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    columns: list[ColumnSchema] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_unique_names(self) -> Self:
        names = self.column_names
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"columns {', '.join(map(repr, repeated))} are listed more than once")
        return self

    @property
    def column_names(self) -> list[str]:
        """Names of the columns, in order."""
        return [column.name for column in self.columns]

    def __contains__(self, name: object) -> bool:
        return any(column.name == name for column in self.columns)

    def column(self, name: str) -> ColumnSchema:
        """The schema of column ``name``; ``SchemaMismatch`` when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        known = ", ".join(self.column_names) or "none"
        raise SchemaMismatch(
            f"column {name!r} is not in the schema; its columns are: {known}", column=name
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON- and YAML-compatible form; unset options are left out."""
        return self.model_dump(exclude_none=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Validate a schema; ``DataError`` names the first field that is wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(_describe_error(exc, data)) from exc

    def to_yaml(self) -> str:
        """Readable YAML, with a comment explaining the fields."""
        body = yaml.safe_dump(
            self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        return _YAML_HEADER + body

    @classmethod
    def from_yaml(cls, text: str) -> Schema:
        """Read a schema written by :meth:`to_yaml` (and perhaps edited)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataError(f"the schema is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise DataError(
                "the schema must be a YAML mapping with a 'columns' list, "
                f"got {type(data).__name__}"
            )
        return cls.from_dict(data)


def infer_schema(
    statistics: DatasetStatistics, *, range_margin: float = 0.1, max_domain_size: int = 100
) -> Schema:
    """A schema that the data these statistics describe passes (see the module notes)."""
    if range_margin < 0:
        raise ValueError(f"range_margin must not be negative, got {range_margin}")
    return Schema(
        columns=[_infer_column(column, range_margin, max_domain_size) for column in statistics]
    )


def _infer_column(
    column: ColumnStatistics, range_margin: float, max_domain_size: int
) -> ColumnSchema:
    schema = ColumnSchema(
        name=column.name,
        type=column.type,
        required=column.present > 0,
        max_missing_fraction=_missing_bound(column.missing_fraction),
    )
    if column.numeric is not None:
        low, high = column.numeric.min, column.numeric.max
        margin = range_margin * (high - low)
        lower, upper = _round_outward(low - margin, high + margin)
        if low >= 0:
            lower = max(lower, 0.0)
        if column.type == "int":
            schema.min, schema.max = math.floor(lower), math.ceil(upper)
        else:
            schema.min, schema.max = lower, upper
    if column.type == "str" and column.categorical is not None and column.present > 0:
        counts = column.categorical.value_counts()
        if column.categorical.is_exact and len(counts) <= max_domain_size:
            schema.domain = sorted(counts)
    return schema


def _missing_bound(fraction: float) -> float:
    if fraction == 0:
        return 0.0
    return min(1.0, math.ceil(fraction * _MISSING_FRACTION_FACTOR * 10_000) / 10_000)


def _round_outward(lower: float, upper: float) -> tuple[float, float]:
    """Bounds rounded to a few significant digits, never narrower than given."""
    return _round_to_digits(lower, ROUND_FLOOR), _round_to_digits(upper, ROUND_CEILING)


def _round_to_digits(value: float, rounding: str) -> float:
    # Decimal rounds the shortest repr of the float, so 1.0 stays 1.0 and the result
    # prints as written; float() is monotone, so the bound still contains ``value``.
    if value == 0 or not math.isfinite(value):
        return value
    exact = Decimal(repr(value))
    unit = Decimal(1).scaleb(exact.adjusted() - _BOUND_DIGITS + 1)
    return float(exact.quantize(unit, rounding=rounding))


def _describe_error(exc: ValidationError, data: Mapping[str, Any]) -> str:
    problem = exc.errors()[0]
    location = list(problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    where = "the schema"
    if len(location) >= 2 and location[0] == "columns" and isinstance(location[1], int):
        index = location[1]
        columns = data.get("columns")
        name = None
        if isinstance(columns, list) and index < len(columns) and isinstance(columns[index], dict):
            name = columns[index].get("name")
        where = f"schema column {index + 1}" + (f" ({name!r})" if name else "")
        location = location[2:]
    field = ".".join(str(part) for part in location)
    return f"{where}: {field + ': ' if field else ''}{message}"
