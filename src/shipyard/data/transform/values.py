"""Reading cells: numbers and category keys, the same on the frame and the rows path.

A refused value raises ``ValueError`` (one cell) or ``SchemaMismatch`` (a frame column)
naming the column, the row and the reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest, SchemaMismatch

__all__ = [
    "category_key",
    "factorize_categories",
    "not_a_mapping",
    "numeric_values",
    "read_number",
]


def read_number(value: object) -> float:
    """A numeric cell as a float, NaN when missing; ``ValueError`` says why it is refused."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"expected a number, got the boolean {value}")
    if isinstance(value, int | np.integer):
        return float(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isinf(number):
            raise ValueError(f"expected a finite number, got {number}")
        return number
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, str):
        raise ValueError(
            f"expected a number, got the text {_shorten(value)}; send numbers as JSON "
            "numbers, not strings"
        )
    raise ValueError(f"expected a number, got a {type(value).__name__}")


def category_key(value: object) -> str | None:
    """A categorical cell as its vocabulary key, None when missing."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number != number:
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    raise ValueError(f"expected text, got a {type(value).__name__}")


def numeric_values(series: pd.Series, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise SchemaMismatch(
            f"column {column!r} holds booleans; the transform expects numbers here",
            column=column,
        )
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        # Cell by cell with the rows path's own reader, so both accept the same values.
        values = np.empty(len(series), dtype=np.float64)
        for i, value in enumerate(series.tolist()):
            try:
                values[i] = read_number(value)
            except (ValueError, OverflowError) as exc:
                raise _cell_error(series, column, i, exc) from None
        return values
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        raise SchemaMismatch(
            f"column {column!r} has dtype {dtype}; the transform expects numbers here",
            column=column,
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        problem = ValueError(f"expected a finite number, got {values[infinite[0]]}")
        raise _cell_error(series, column, int(infinite[0]), problem)
    return values


def factorize_categories(series: pd.Series, column: str) -> tuple[list[str | None], np.ndarray]:
    """A categorical column as its distinct keys and, per row, a code into them (-1: missing)."""
    if pd.api.types.is_object_dtype(series.dtype) and pd.api.types.infer_dtype(
        series, skipna=True
    ) not in ("string", "empty"):
        # Mixed Python objects: pandas would take 1, 1.0 and True for one value, so read
        # every cell with the rows path's reader first.
        cells = np.empty(len(series), dtype=object)
        for i, value in enumerate(series.tolist()):
            try:
                cells[i] = category_key(value)
            except ValueError as exc:
                raise _cell_error(series, column, i, exc) from None
        cell_codes, cell_keys = pd.factorize(cells)
        return list(cell_keys), cell_codes
    codes, distinct = pd.factorize(series)
    keys: list[str | None] = []
    for j, value in enumerate(distinct):
        try:
            keys.append(category_key(value))
        except ValueError as exc:
            first = int(np.flatnonzero(codes == j)[0])
            raise _cell_error(series, column, first, exc) from None
    return keys, codes


def _cell_error(series: pd.Series, column: str, i: int, exc: Exception) -> SchemaMismatch:
    label = series.index[i]
    return SchemaMismatch(f"column {column!r}, row {label!r}: {exc}", column=column)


def not_a_mapping(i: int, row: object) -> InvalidRequest:
    return InvalidRequest(
        f"row {i} is a {type(row).__name__}; each row must be an object mapping column "
        "names to values"
    )


def _shorten(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
