"""The rows path: request rows (column -> JSON value) to features without pandas.

A ``RowsPlan`` is computed once per transform; ``transform_rows`` then does one dict
lookup and one float write per cell.  It gives bit for bit what the frame path gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from shipyard.data.transform.stats import TransformStats, add_stats
from shipyard.data.transform.values import category_key, not_a_mapping, read_number
from shipyard.errors import InvalidRequest

__all__ = ["RowsPlan", "build_rows_plan", "transform_rows"]

Cell = tuple[int, float]  # (output position, value to write there)


@dataclass(frozen=True)
class RowsPlan:
    """Per-column work for ``transform_rows``, precomputed once per transform."""

    width: int
    # (column, output position, center, scale, output for a missing value)
    numeric: tuple[tuple[str, int, float, float, float], ...]
    # (column, category -> cell, cell for <other>, cell for a missing value).  One-hot
    # writes 1.0 at the category's position (a missing value writes 0.0 to a zero cell);
    # ordinal writes the code, <other> as len(vocabulary), missing as -1.
    categorical: tuple[tuple[str, dict[str, Cell], Cell, Cell], ...]


def build_rows_plan(
    *,
    numeric: Sequence[tuple[str, float, float, float]],
    vocabularies: Sequence[tuple[str, tuple[str, ...]]],
    onehot: bool,
    width: int,
) -> RowsPlan:
    """The plan for ``(column, center, scale, imputed value)`` numeric columns, then the
    categorical columns' vocabularies, one-hot or ordinal, in output order."""
    numeric_plan = tuple(
        (column, j, center, scale, (fill - center) / scale)
        for j, (column, center, scale, fill) in enumerate(numeric)
    )
    categorical: list[tuple[str, dict[str, Cell], Cell, Cell]] = []
    position = len(numeric)
    for column, vocabulary in vocabularies:
        k = len(vocabulary)
        if onehot:
            cells = {value: (position + code, 1.0) for code, value in enumerate(vocabulary)}
            categorical.append((column, cells, (position + k, 1.0), (position, 0.0)))
            position += k + 1
        else:
            cells = {value: (position, float(code)) for code, value in enumerate(vocabulary)}
            categorical.append((column, cells, (position, float(k)), (position, -1.0)))
            position += 1
    return RowsPlan(width=width, numeric=numeric_plan, categorical=tuple(categorical))


def transform_rows(
    plan: RowsPlan, rows: Sequence[Mapping[str, Any]], *, stats: TransformStats | None = None
) -> np.ndarray:
    """The features of ``rows`` by ``plan``; ``InvalidRequest`` names a refused cell."""
    width = plan.width
    out = np.zeros((len(rows), width), dtype=np.float64)
    # Writing through a memoryview is the cheapest way to set one float from Python.
    flat = cast("memoryview[float]", out.reshape(-1).data)
    missing_counts: dict[str, int] = {}
    unseen_counts: dict[str, int] = {}
    i, name = 0, ""
    try:
        for i, row in enumerate(rows):
            if type(row) is not dict and not isinstance(row, Mapping):
                raise not_a_mapping(i, row)
            base = i * width
            get = row.get
            for name, position, center, scale, imputed in plan.numeric:
                value: Any = get(name)
                kind = type(value)
                # x - x == 0 holds for every finite number and fails for NaN and inf.
                if (kind is float or kind is int) and value - value == 0:
                    flat[base + position] = (value - center) / scale
                    continue
                number = read_number(value)
                if number != number:
                    flat[base + position] = imputed
                    missing_counts[name] = missing_counts.get(name, 0) + 1
                else:
                    flat[base + position] = (number - center) / scale
            for name, lookup, other, absent in plan.categorical:
                value = get(name)
                key = value if type(value) is str else category_key(value)
                cell: Cell | None
                if key is None:
                    cell = absent
                    missing_counts[name] = missing_counts.get(name, 0) + 1
                else:
                    cell = lookup.get(key)
                    if cell is None:
                        cell = other
                        unseen_counts[name] = unseen_counts.get(name, 0) + 1
                flat[base + cell[0]] = cell[1]
    except ValueError as exc:
        raise InvalidRequest(f"row {i}, column {name!r}: {exc}", field=name, row=i) from None
    except OverflowError:
        raise InvalidRequest(
            f"row {i}, column {name!r}: the number is too large", field=name, row=i
        ) from None

    if stats is not None:
        add_stats(stats, len(rows), missing_counts, unseen_counts)
    return out
