"""A column's shipyard type, from its pandas dtype and content, and how types merge.

``int``, ``float``, ``bool`` or ``str``: see the rules in :mod:`shipyard.data.statistics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from shipyard.data.statistics.sketches import FloatArray
from shipyard.errors import DataError

if TYPE_CHECKING:
    # pandas is imported by ``classify``, which reads columns: reading stored statistics
    # back (a cached run's summary) needs only the types below.
    import pandas as pd

__all__ = ["NUMERIC_TYPES", "ColumnType", "classify", "infer_column_type", "merged_type"]

ColumnType = Literal["int", "float", "bool", "str"]
NUMERIC_TYPES: frozenset[ColumnType] = frozenset({"int", "float"})

# Object columns whose inferred content is one of these are numeric.
_OBJECT_INTEGER = frozenset({"integer"})
_OBJECT_FLOAT = frozenset({"floating", "mixed-integer-float", "decimal"})


def infer_column_type(series: pd.Series[Any]) -> ColumnType:
    """The shipyard type of a pandas column (see the module notes)."""
    return classify(series)[0]


def classify(series: pd.Series[Any]) -> tuple[ColumnType, FloatArray | None]:
    """The column's type and, for numeric columns, its present values as floats."""
    from pandas.api.types import (
        infer_dtype,
        is_bool_dtype,
        is_float_dtype,
        is_integer_dtype,
        is_object_dtype,
    )

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


def merged_type(
    left: ColumnType, left_present: int, right: ColumnType, right_present: int
) -> ColumnType:
    """The type of two partitions' column merged; a partition without values defers."""
    if left == right:
        return left
    if left_present == 0 and right_present > 0:
        return right
    if right_present == 0 and left_present > 0:
        return left
    if {left, right} == NUMERIC_TYPES:
        return "float"
    return "str"
