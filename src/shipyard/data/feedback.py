"""Labelled predictions as training rows, typed like the table the model learned from.

The prediction log keeps inputs and labels as JSON values; training needs them in the
source table's columns and dtypes, so that they append to its training split.  A value
that cannot be cast (text for a numeric target, 2.5 for an integer one) is a ``DataError``
naming the prediction rather than a dropped row: dropping would hide a labelling bug, and
a new label for the same prediction replaces the bad one.

>>> rows = feedback_rows(log.labelled_rows("ames"), like=table, target="price")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import DataError

__all__ = ["LABEL_SOURCE", "PREDICTION_ID", "feedback_rows"]

PREDICTION_ID = "prediction_id"
"""The column of ``feedback_rows`` naming the prediction each row came from."""
LABEL_SOURCE = "label_source"
"""The column of ``feedback_rows`` saying who gave the label ("api", "agreed", ...)."""

_SHOWN = 5  # predictions named in an error


def feedback_rows(labelled: pd.DataFrame, *, like: pd.DataFrame, target: str) -> pd.DataFrame:
    """``like``'s columns filled from ``labelled`` (``PredictionLog.labelled_rows``).

    The label becomes ``target``; inputs the predictions lack are missing values; inputs
    ``like`` does not have are left out.  ``PREDICTION_ID`` and ``LABEL_SOURCE`` follow;
    rows are sorted by prediction id, so the same labels always make the same table.
    Raises ``DataError`` naming the predictions whose label or inputs cannot be cast.
    """
    reserved = sorted({PREDICTION_ID, LABEL_SOURCE} & set(like.columns))
    if reserved:
        raise DataError(
            f"the training data has columns named {reserved}, which the feedback rows use "
            "for the prediction and the label's source; rename them to include feedback"
        )
    if target not in like.columns:
        raise DataError(f"target column '{target}' is not in the training data")
    ids = labelled["prediction_id"].astype("str")
    columns: dict[str, pd.Series] = {}
    for name in like.columns:
        if name == target:
            values = labelled["label"]
        elif name in labelled.columns:
            values = labelled[name]
        else:
            values = pd.Series(None, index=labelled.index, dtype="object")
        cast, bad = _cast(values, like[name].dtype)
        if bad.any():
            raise _uncastable(values[bad], ids[bad], like[name].dtype, name, name == target)
        columns[name] = cast
    result = pd.DataFrame(columns, index=labelled.index)
    result[PREDICTION_ID] = ids
    result[LABEL_SOURCE] = labelled["source"].astype("str")
    return result.sort_values(PREDICTION_ID, kind="stable").reset_index(drop=True)


def _cast(values: pd.Series, dtype: Any) -> tuple[pd.Series, pd.Series]:
    """``values`` as ``dtype`` (or float/object when missing values forbid it), and a
    mask of the present values that could not be cast."""
    present = values.notna()
    if pd.api.types.is_bool_dtype(dtype):
        bad = present & ~values.map(lambda v: isinstance(v, bool | np.bool_))
        return (values.astype(dtype) if present.all() else values.astype("object")), bad
    if pd.api.types.is_numeric_dtype(dtype):
        numbers = pd.Series([_number(v) for v in values], index=values.index, dtype="float64")
        bad = present & numbers.isna()
        if pd.api.types.is_integer_dtype(dtype):
            bad |= present & numbers.notna() & (numbers % 1 != 0)
            if present.all() and not bad.any():
                return numbers.astype(dtype), bad
        return numbers, bad
    if pd.api.types.is_datetime64_any_dtype(dtype):
        times = pd.to_datetime(values, errors="coerce", utc=getattr(dtype, "tz", None) is not None)
        return times, present & times.isna()
    # Text, categories and anything else: scalars as text.
    bad = present & values.map(lambda v: isinstance(v, dict | list))
    text = values.map(lambda v: None if not isinstance(v, str) and _missing(v) else str(v))
    return text.astype(dtype if pd.api.types.is_string_dtype(dtype) else "object"), bad


def _number(value: Any) -> float:
    """A JSON value as a float; NaN when it is missing or not a number."""
    if isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _uncastable(
    values: pd.Series, ids: pd.Series, dtype: Any, column: str, is_target: bool
) -> DataError:
    shown = ", ".join(
        f"{prediction_id} ({value!r})"
        for prediction_id, value in zip(ids[:_SHOWN], values[:_SHOWN], strict=True)
    )
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    if is_target:
        return DataError(
            f"the label of {len(ids)} prediction(s) cannot be cast to target column "
            f"'{column}' ({dtype}): {shown}{more}; label them again with values of that "
            "type (a new label replaces the old one); nothing was trained or written"
        )
    return DataError(
        f"input '{column}' of {len(ids)} labelled prediction(s) cannot be cast to the "
        f"training data's {dtype}: {shown}{more}; nothing was trained or written"
    )
