"""The user's ``derive`` function: imported by reference, run on frames, checked."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

import pandas as pd

from shipyard.errors import DataError

__all__ = ["DeriveFunction", "apply_derive", "load_derive"]

DeriveFunction = Callable[[pd.DataFrame], pd.DataFrame]


def load_derive(reference: str) -> DeriveFunction:
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DataError(f"cannot import {module_name!r} for derive={reference!r}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise DataError(f"derive={reference!r}: {module_name} has no function {function_name!r}")
    return cast(DeriveFunction, function)


def apply_derive(function: DeriveFunction, reference: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        result = function(frame.copy(deep=False))
    except Exception as exc:  # user code: report it as a data problem, keep the cause
        raise DataError(f"derive function {reference} failed: {exc}") from exc
    if not isinstance(result, pd.DataFrame):
        raise DataError(
            f"derive function {reference} returned a {type(result).__name__}, not a DataFrame"
        )
    if len(result) != len(frame):
        raise DataError(f"derive function {reference} changed the number of rows")
    return result
