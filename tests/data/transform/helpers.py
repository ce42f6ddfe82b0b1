"""Helpers shared by the transform tests."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from shipyard.data.transform import (
    FittedTransform,
    TransformStats,
)


def add_house_age(frame: pd.DataFrame) -> pd.DataFrame:
    """A derive function for the tests: one extra column computed row by row."""
    return frame.assign(House_Age=frame["Year_Sold"] - frame["Year_Built"])


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame as request rows (column -> value)."""
    return cast(list[dict[str, Any]], frame.to_dict("records"))


def same(left: np.ndarray, right: np.ndarray) -> bool:
    return left.dtype == right.dtype and np.array_equal(left, right, equal_nan=True)


def both_paths(
    fitted: FittedTransform, frame: pd.DataFrame, rows: list[dict[str, Any]]
) -> np.ndarray:
    """Apply the frame, rows, columns and batch paths, check they agree (output and
    counts), return the output."""
    frame_stats, rows_stats = TransformStats(), TransformStats()
    columns_stats, batch_stats = TransformStats(), TransformStats()
    from_frame = fitted.transform_frame(frame, stats=frame_stats)
    from_rows = fitted.transform_rows(rows, stats=rows_stats)
    from_columns = fitted.transform_columns(as_columns(rows), len(rows), stats=columns_stats)
    from_batch = fitted.transform_batch(rows, stats=batch_stats)
    assert same(from_frame, from_rows)
    assert from_columns.tobytes() == from_rows.tobytes() == from_batch.tobytes()
    assert frame_stats == rows_stats == columns_stats == batch_stats
    return from_frame


def as_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The rows as columns (column -> one value per row; None where a row leaves it out)."""
    names = {name: None for row in rows for name in row}
    return {name: [row.get(name) for row in rows] for name in names}
