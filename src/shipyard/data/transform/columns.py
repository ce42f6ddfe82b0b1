"""Which columns a frame offers, and which of them are numeric or categorical."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from shipyard.data.transform.spec import TransformSpec
from shipyard.errors import DataError, SchemaMismatch

__all__ = ["check_column_names", "choose_columns", "require_columns", "require_frame"]


def require_frame(frame: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got a {type(frame).__name__}")


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    present = set(frame.columns)
    absent = [column for column in columns if column not in present]
    if absent:
        names = ", ".join(repr(c) for c in absent[:5]) + (", ..." if len(absent) > 5 else "")
        what = f"column {names} is" if len(absent) == 1 else f"{len(absent)} columns ({names}) are"
        raise SchemaMismatch(
            f"{what} missing from the frame; the transform reads {len(columns)} columns "
            "(see FittedTransform.input_columns)",
            column=absent[0],
        )
    duplicated = frame.columns[frame.columns.duplicated()]
    for column in columns:
        if column in duplicated:
            raise SchemaMismatch(f"column {column!r} appears twice in the frame", column=column)


def check_column_names(frame: pd.DataFrame) -> None:
    for name in frame.columns:
        if not isinstance(name, str):
            raise SchemaMismatch(f"column names must be text, got {name!r}", column=str(name))
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        name = duplicated[0]
        raise SchemaMismatch(f"column {name!r} appears twice in the frame", column=name)


def _infer_kind(series: pd.Series) -> Literal["numeric", "categorical"] | None:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return None if pd.api.types.is_complex_dtype(dtype) else "numeric"
    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return (
            "numeric"
            if inferred in ("integer", "floating", "mixed-integer-float")
            else "categorical"
        )
    return None


def choose_columns(
    frame: pd.DataFrame, spec: TransformSpec
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The numeric and categorical columns: the spec's lists, or inferred from dtypes."""
    check_column_names(frame)
    listed = (spec.numeric or ()) + (spec.categorical or ())
    require_columns(frame, listed)
    numeric = list(spec.numeric or ())
    categorical = list(spec.categorical or ())
    if spec.numeric is None or spec.categorical is None:
        claimed = set(listed) | set(spec.drop)
        for name in frame.columns:
            if name in claimed:
                continue
            kind = _infer_kind(frame[name])
            if kind is None:
                raise SchemaMismatch(
                    f"column {name!r} has dtype {frame[name].dtype}, which the transform "
                    "cannot use; convert it, or list it in drop",
                    column=name,
                )
            if kind == "numeric" and spec.numeric is None:
                numeric.append(name)
            elif kind == "categorical" and spec.categorical is None:
                categorical.append(name)
    if not numeric and not categorical:
        raise DataError("the transform has no feature columns: every column is dropped")
    return tuple(numeric), tuple(categorical)
