"""The columns path: a batch of request columns (column -> values) to features with numpy.

``transform_columns`` gives bit for bit what ``transform_rows`` gives for the same rows,
refuses the same cells with the same messages, and counts the same repairs; it follows
the same ``RowsPlan``.  A column is a numpy array (an Open Inference Protocol tensor) or a
sequence of JSON values.  In the common case (numeric columns of numbers and nulls,
categorical columns of text and nulls) all numeric columns are converted in one numpy
call, every categorical cell is one dict lookup in one comprehension, and the outputs
are written with one arithmetic expression and one scatter.  Any other column is read
cell by cell with the rows path's own readers, which find the refused cell.

``transform_records`` takes the rows themselves (dicts, as JSON gives them) and reads
them row by row, without making columns: one C call per row takes its numeric cells,
another its categorical cells, and one C loop looks each categorical cell up in its
column's codes; only a categorical cell that is not text is read in Python.  Rows with
a key left out, a numeric cell other than a number or null, or a refused cell go
through ``columns_of`` and ``transform_columns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, cycle
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.data.transform.rows import RowsPlan
from shipyard.data.transform.stats import TransformStats, add_stats
from shipyard.data.transform.values import category_key, read_number
from shipyard.errors import DataError, InvalidRequest

__all__ = [
    "Column",
    "ColumnsPlan",
    "build_columns_plan",
    "columns_of",
    "transform_columns",
    "transform_records",
]

Column = npt.NDArray[Any] | Sequence[Any]
_NUMBERS = frozenset({float, int, type(None)})
_TEXT = frozenset({str, type(None)})


@dataclass(frozen=True)
class _Categories:
    """One categorical column: key -> code (vocabulary, then ``<other>``, then missing)."""

    name: str
    codes: dict[str | None, int]
    other: int


@dataclass(frozen=True)
class ColumnsPlan:
    """Per-column work for ``transform_columns``, derived once from a ``RowsPlan``.

    The codes of all categorical columns index one table of cells: column ``j``'s code
    ``c`` writes ``values[offsets[j] + c]`` at ``positions[offsets[j] + c]`` of its row.
    """

    width: int
    numeric: tuple[str, ...]
    numeric_positions: npt.NDArray[np.intp]
    centers: npt.NDArray[np.float64]
    scales: npt.NDArray[np.float64]
    imputed: npt.NDArray[np.float64]
    categorical: tuple[_Categories, ...]
    categorical_names: tuple[str, ...]
    others: npt.NDArray[np.intp]
    offsets: npt.NDArray[np.intp]
    positions: npt.NDArray[np.intp]
    values: npt.NDArray[np.float64]
    category_codes: tuple[dict[str | None, int], ...]  # the categorical columns' codes


def build_columns_plan(plan: RowsPlan) -> ColumnsPlan:
    """The columns path's plan that writes the cells ``plan`` writes."""
    categorical: list[_Categories] = []
    cells: list[tuple[int, float]] = []
    offsets: list[int] = []
    for name, lookup, other, absent in plan.categorical:
        offsets.append(len(cells))
        cells += [*lookup.values(), other, absent]
        codes: dict[str | None, int] = {key: code for code, key in enumerate(lookup)}
        codes[None] = len(lookup) + 1
        categorical.append(_Categories(name=name, codes=codes, other=len(lookup)))

    def column(values: list[float]) -> npt.NDArray[np.float64]:
        return np.array(values, dtype=np.float64)

    return ColumnsPlan(
        width=plan.width,
        numeric=tuple(spec[0] for spec in plan.numeric),
        numeric_positions=np.array([spec[1] for spec in plan.numeric], dtype=np.intp),
        centers=column([spec[2] for spec in plan.numeric]),
        scales=column([spec[3] for spec in plan.numeric]),
        imputed=column([spec[4] for spec in plan.numeric]),
        categorical=tuple(categorical),
        categorical_names=tuple(c.name for c in categorical),
        others=np.array([c.other for c in categorical], dtype=np.intp),
        offsets=np.array(offsets, dtype=np.intp),
        positions=np.array([cell[0] for cell in cells], dtype=np.intp),
        values=np.array([cell[1] for cell in cells], dtype=np.float64),
        category_codes=tuple(c.codes for c in categorical),
    )


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


def _finite(
    numbers: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], int, Exception | None]:
    """``numbers``, and its first infinite cell refused, if any."""
    infinite = np.flatnonzero(np.isinf(numbers))
    if infinite.size:
        first = int(infinite[0])
        return numbers, first, ValueError(f"expected a finite number, got {numbers[first]}")
    return numbers, -1, None


def _numbers(values: Column, rows: int) -> tuple[npt.NDArray[np.float64], int, Exception | None]:
    """A numeric column as float64 (NaN: missing), and the first refused cell, if any
    (later cells are then not read)."""
    if isinstance(values, np.ndarray):
        kind = values.dtype.kind
        if kind in "iuf":
            return _finite(values.astype(np.float64))
        values = values.tolist()
    if set(map(type, values)) <= _NUMBERS:
        try:
            numbers = np.array(values, dtype=np.float64)
        except OverflowError:
            pass  # an integer beyond float64: found below, cell by cell
        else:
            return _finite(numbers)
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


def _keys_of(row: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """``names`` as the key objects of ``row`` (a name it lacks as it is), to look them
    up in the rows of one JSON body.

    Those rows share their key objects (orjson keeps the keys it has made), and a dict
    finds its own key object without comparing the text: twice as fast.
    """
    own = {key: key for key in row}
    return [own.get(name, name) for name in names]


def columns_of(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Column]:
    """The values of ``names`` in ``rows`` (mappings), one sequence per column (None
    where a row leaves a name out)."""
    if len(names) > 1 and rows:
        try:
            # One C call per row, and one transposition: no Python loop over the cells.
            return dict(zip(names, zip(*map(itemgetter(*names), rows), strict=True), strict=True))
        except KeyError:
            pass  # a row leaves a name out
    return {name: [row.get(name) for row in rows] for name in names}


def _numeric_block(
    plan: ColumnsPlan, columns: Mapping[str, Column], rows: int, refusal: _Refusal
) -> npt.NDArray[np.float64]:
    """The numeric columns as float64, one row per column (NaN: missing)."""
    given = [columns.get(name) for name in plan.numeric]
    # The common cases in one conversion: every column a list of numbers and nulls
    # (JSON), or every column a numeric array (tensors).
    if all(values is None or type(values) in (list, tuple) for values in given):
        lists = [[None] * rows if values is None else values for values in given]
        if set(map(type, chain.from_iterable(lists))) <= _NUMBERS:
            try:
                block = np.array(lists, dtype=np.float64).reshape(len(lists), rows)
            except OverflowError:
                pass  # an integer beyond float64: found below, cell by cell
            else:
                if not np.isinf(block).any():
                    return block
    elif all(isinstance(values, np.ndarray) and values.dtype.kind in "iuf" for values in given):
        block = np.empty((len(given), rows), dtype=np.float64)
        for j, values in enumerate(given):
            block[j] = values
        if not np.isinf(block).any():
            return block
    block = np.empty((len(given), rows), dtype=np.float64)
    for j, values in enumerate(given):
        if values is None:
            block[j] = np.nan
            continue
        block[j], bad, exc = _numbers(values, rows)
        if exc is not None:
            refusal.offer(bad, j, plan.numeric[j], exc)
    return block


def _code_block(
    plan: ColumnsPlan, columns: Mapping[str, Column], rows: int, refusal: _Refusal
) -> npt.NDArray[np.intp]:
    """The categorical columns as codes, one row per column."""
    given = [columns.get(categories.name) for categories in plan.categorical]
    lists = [[None] * rows if values is None else values for values in given]
    # The common case in one pass: every column a list of text and nulls.  A value of
    # another type cannot match the vocabulary's text: it is looked at below if it lands
    # in <other>, and sends its column the slow way.
    if all(type(values) in (list, tuple) for values in lists):
        try:
            found = [
                get(value, other)
                for get, other, values in zip(
                    [c.codes.get for c in plan.categorical],
                    [c.other for c in plan.categorical],
                    lists,
                    strict=True,
                )
                for value in values
            ]
        except TypeError:
            pass  # an unhashable value
        else:
            codes = np.array(found, dtype=np.intp).reshape(len(lists), rows)
            unseen = np.argwhere(codes == plan.others[:, np.newaxis]).tolist()
            if all(type(lists[j][i]) is str for j, i in unseen):
                return codes
    codes = np.empty((len(lists), rows), dtype=np.intp)
    for j, (categories, values) in enumerate(zip(plan.categorical, lists, strict=True)):
        codes[j], bad, exc = _codes(categories, values)
        if exc is not None:
            refusal.offer(bad, len(plan.numeric) + j, categories.name, exc)
    return codes


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
    refusal = _Refusal()
    numbers = _numeric_block(plan, columns, rows, refusal)
    codes = _code_block(plan, columns, rows, refusal)
    refusal.raise_if_any()
    return _features(plan, numbers.T, codes.T, stats)


def _cells(names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Iterator[Any]:
    """The values of ``names`` in ``rows``, row after row: one C call per row, and
    ``KeyError`` when a row leaves a name out."""
    if len(names) == 1:
        return map(itemgetter(names[0]), rows)
    if not names:
        return iter(())
    return chain.from_iterable(map(itemgetter(*names), rows))


def _record_blocks(
    plan: ColumnsPlan, rows: Sequence[Mapping[str, Any]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]] | None:
    """The numbers (NaN: missing) and codes of ``rows``, a line per row, when every row
    has every column and every cell is of the common kinds (else None)."""
    count, names = len(rows), plan.categorical_names
    keys = _keys_of(rows[0], plan.numeric + names) if rows else []
    try:
        cells = list(_cells(keys[: len(plan.numeric)], rows))
        # Another value (another kind, or one beyond float64) is read by the columns path.
        if not set(map(type, cells)) <= _NUMBERS:
            return None
        numbers = np.array(cells, dtype=np.float64).reshape(count, len(plan.numeric))
        # Each cell looked up in its column's codes (dict.get(codes, cell, other)).
        codes = np.fromiter(
            map(
                dict.get,
                cycle(plan.category_codes),
                _cells(keys[len(plan.numeric) :], rows),
                cycle(plan.others.tolist()),
            ),
            dtype=np.intp,
            count=count * len(names),
        ).reshape(count, len(names))
    except (KeyError, OverflowError, TypeError):  # a key left out, a number beyond float64,
        return None  # an unhashable value
    if np.isinf(numbers).any():
        return None
    # A value of another type than text cannot match the vocabulary's text: one that
    # lands in <other> is read as the rows path reads it (20 as "20", NaN as missing),
    # and one it refuses sends the rows through the columns path, which names it.
    for i, j in np.argwhere(codes == plan.others).tolist():
        value = rows[i][names[j]]
        if type(value) is not str:
            try:
                key = category_key(value)
            except ValueError:
                return None
            codes[i, j] = plan.category_codes[j].get(key, plan.categorical[j].other)
    return numbers, codes


def transform_records(
    plan: ColumnsPlan,
    rows: Sequence[Mapping[str, Any]],
    *,
    stats: TransformStats | None = None,
) -> np.ndarray:
    """``transform_columns`` of the columns of ``rows`` (dicts; a key left out is
    missing), without making the columns when every row has every column and every
    cell is of the common kinds."""
    blocks = _record_blocks(plan, rows)
    if blocks is None:
        columns = columns_of(rows, plan.numeric + plan.categorical_names)
        return transform_columns(plan, columns, len(rows), stats=stats)
    numbers, codes = blocks
    return _features(plan, numbers, codes, stats)


def _features(
    plan: ColumnsPlan,
    numbers: npt.NDArray[np.float64],
    codes: npt.NDArray[np.intp],
    stats: TransformStats | None,
) -> np.ndarray:
    """The features of the rows given as ``numbers`` (NaN: missing) and ``codes``: a
    line per row, a column per numeric, resp. categorical column."""
    rows = len(numbers)
    out = np.zeros((rows, plan.width), dtype=np.float64)
    absent = np.isnan(numbers)
    # The same two IEEE operations per cell as the rows path, so results match bit for bit.
    out[:, plan.numeric_positions] = np.where(
        absent, plan.imputed, (numbers - plan.centers) / plan.scales
    )
    cells = codes + plan.offsets
    starts = np.arange(0, rows * plan.width, plan.width, dtype=np.intp)[:, np.newaxis]
    out.reshape(-1)[plan.positions[cells] + starts] = plan.values[cells]

    if stats is not None:
        missing = [*absent.sum(axis=0).tolist(), *(codes == plan.others + 1).sum(axis=0).tolist()]
        names = plan.numeric + plan.categorical_names
        unseen = (codes == plan.others).sum(axis=0).tolist()
        add_stats(
            stats,
            rows,
            dict(zip(names, missing, strict=True)),
            dict(zip(plan.categorical_names, unseen, strict=True)),
        )
    return out
