"""The columns path: a batch of request columns (column -> values) to features with numpy.

``transform_columns`` gives bit for bit what ``transform_rows`` gives for the same rows,
refuses the same cells with the same messages, and counts the same repairs; it follows
the same ``RowsPlan``.  A column is a numpy array (an Open Inference Protocol tensor) or a
list of JSON values.  Numbers are converted a column at a time; categories are looked up
in the vocabulary once per cell with one dict lookup, and every cell is written with one
scatter at the end.  A column whose values are not all of the common types (numbers and
null; text and null) is read cell by cell with the rows path's own readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.data.transform.rows import RowsPlan
from shipyard.data.transform.stats import TransformStats, add_stats
from shipyard.data.transform.values import category_key, read_number
from shipyard.errors import DataError, InvalidRequest

__all__ = ["ColumnsPlan", "build_columns_plan", "transform_columns"]

Column = npt.NDArray[Any] | list[Any]
_NUMBERS = frozenset({float, int, type(None)})
_TEXT = frozenset({str, type(None)})


@dataclass(frozen=True)
class _Categories:
    """One categorical column: key -> code (vocabulary, then ``<other>``, then missing),
    and per code the output position (relative to the row) and the value written."""

    name: str
    codes: dict[str | None, int]
    other: int
    positions: npt.NDArray[np.intp]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class ColumnsPlan:
    """Per-column work for ``transform_columns``, derived once from a ``RowsPlan``."""

    width: int
    numeric: tuple[tuple[str, int, float, float, float], ...]
    categorical: tuple[_Categories, ...]


def build_columns_plan(plan: RowsPlan) -> ColumnsPlan:
    """The columns path's plan that writes the cells ``plan`` writes."""
    categorical = []
    for name, lookup, other, absent in plan.categorical:
        cells = [*lookup.values(), other, absent]
        codes: dict[str | None, int] = {key: code for code, key in enumerate(lookup)}
        codes[None] = len(lookup) + 1
        categorical.append(
            _Categories(
                name=name,
                codes=codes,
                other=len(lookup),
                positions=np.array([cell[0] for cell in cells], dtype=np.intp),
                values=np.array([cell[1] for cell in cells], dtype=np.float64),
            )
        )
    return ColumnsPlan(width=plan.width, numeric=plan.numeric, categorical=tuple(categorical))


class _Refusal:
    """The first refused cell in row order (then plan order), as the rows path finds it."""

    def __init__(self) -> None:
        self.row: int | None = None
        self.order = 0
        self.column = ""
        self.message = ""

    def offer(self, row: int, order: int, column: str, exc: Exception) -> None:
        if self.row is None or (row, order) < (self.row, self.order):
            message = "the number is too large" if isinstance(exc, OverflowError) else str(exc)
            self.row, self.order, self.column, self.message = row, order, column, message

    def raise_if_any(self) -> None:
        if self.row is not None:
            raise InvalidRequest(
                f"row {self.row}, column {self.column!r}: {self.message}",
                field=self.column,
                row=self.row,
            )


def _numbers(values: Column, rows: int) -> tuple[npt.NDArray[np.float64], int, Exception | None]:
    """A numeric column as float64 (NaN: missing), and the first refused cell, if any
    (later cells are then not read)."""
    if isinstance(values, np.ndarray):
        kind = values.dtype.kind
        if kind in "iuf":
            numbers = values.astype(np.float64)
            infinite = np.flatnonzero(np.isinf(numbers))
            if infinite.size:
                first = int(infinite[0])
                return numbers, first, ValueError(f"expected a finite number, got {numbers[first]}")
            return numbers, -1, None
        values = values.tolist()
    if set(map(type, values)) <= _NUMBERS:
        try:
            numbers = np.array(values, dtype=np.float64)
        except OverflowError:
            pass  # an integer beyond float64: found below, cell by cell
        else:
            infinite = np.flatnonzero(np.isinf(numbers))
            if infinite.size:
                first = int(infinite[0])
                return numbers, first, ValueError(f"expected a finite number, got {numbers[first]}")
            return numbers, -1, None
    numbers = np.empty(rows, dtype=np.float64)
    for i, value in enumerate(values):
        try:
            numbers[i] = read_number(value)
        except (ValueError, OverflowError) as exc:
            return numbers, i, exc
    return numbers, -1, None


def _codes(
    categories: _Categories, values: Column
) -> tuple[npt.NDArray[np.intp], int, Exception | None]:
    """A categorical column as codes, and the first refused cell, if any."""
    codes, other = categories.codes, categories.other
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "biuf":
            # One key per distinct value: NaN and -0.0 read as their equals do.
            distinct, inverse = np.unique(values, return_inverse=True)
            keys = [codes.get(category_key(value), other) for value in distinct.tolist()]
            return np.array(keys, dtype=np.intp)[inverse.reshape(-1)], -1, None
        values = values.tolist()
    get = codes.get
    if set(map(type, values)) <= _TEXT:
        return np.array([get(value, other) for value in values], dtype=np.intp), -1, None
    found = np.empty(len(values), dtype=np.intp)
    for i, value in enumerate(values):
        try:
            found[i] = get(value if type(value) is str else category_key(value), other)
        except ValueError as exc:
            return found, i, exc
    return found, -1, None


def transform_columns(
    plan: ColumnsPlan,
    columns: Mapping[str, Column],
    rows: int,
    *,
    stats: TransformStats | None = None,
) -> np.ndarray:
    """The features of ``rows`` rows given as ``columns`` (a column left out is missing
    in every row); ``InvalidRequest`` names the first refused cell as ``transform_rows``
    does."""
    for name, values in columns.items():
        if len(values) != rows:
            raise DataError(f"column {name!r} holds {len(values)} values, not {rows}")
    width = plan.width
    out = np.zeros((rows, width), dtype=np.float64)
    missing_counts: dict[str, int] = {}
    unseen_counts: dict[str, int] = {}
    refusal = _Refusal()
    order = 0
    for name, position, center, scale, imputed in plan.numeric:
        given = columns.get(name)
        if given is None:
            out[:, position] = imputed
            missing_counts[name] = rows
        else:
            numbers, bad, exc = _numbers(given, rows)
            if exc is not None:
                refusal.offer(bad, order, name, exc)
            else:
                absent = np.isnan(numbers)
                out[:, position] = np.where(absent, imputed, (numbers - center) / scale)
                missing_counts[name] = int(np.count_nonzero(absent))
        order += 1
    row_starts = np.arange(rows, dtype=np.intp) * width
    cells: list[npt.NDArray[np.intp]] = []
    written: list[npt.NDArray[np.float64]] = []
    for categories in plan.categorical:
        name = categories.name
        given = columns.get(name)
        if given is None:
            codes = np.full(rows, categories.other + 1, dtype=np.intp)
        else:
            codes, bad, exc = _codes(categories, given)
            if exc is not None:
                refusal.offer(bad, order, name, exc)
                order += 1
                continue
        order += 1
        missing_counts[name] = int(np.count_nonzero(codes == categories.other + 1))
        unseen_counts[name] = int(np.count_nonzero(codes == categories.other))
        cells.append(row_starts + categories.positions[codes])
        written.append(categories.values[codes])
    refusal.raise_if_any()
    if cells:
        out.reshape(-1)[np.concatenate(cells)] = np.concatenate(written)
    if stats is not None:
        add_stats(stats, rows, missing_counts, unseen_counts)
    return out
