"""Derived columns: the same function on both paths; failures are data errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.data.transform import (
    FittedTransform,
    TransformSpec,
    learn_transform,
)
from shipyard.demo_data import AMES_TARGET
from shipyard.errors import DataError, InvalidRequest
from tests.data.transform.helpers import add_house_age, both_paths, records, same


def test_derived_columns_on_both_paths(ames_split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = ames_split
    spec = TransformSpec(drop=(AMES_TARGET,), derive=f"{add_house_age.__module__}:add_house_age")
    fitted = learn_transform(train, spec)
    assert "House_Age" in fitted.numeric_columns
    assert "House_Age" not in fitted.input_columns
    assert AMES_TARGET not in fitted.input_columns
    rows = records(test.drop(columns=AMES_TARGET))
    out = both_paths(fitted, test, rows)
    age = fitted.feature_names.index("House_Age")
    expected = (test["Year_Sold"] - test["Year_Built"] - fitted.means["House_Age"]) / (
        fitted.scales["House_Age"]
    )
    assert np.allclose(out[:, age], expected)
    restored = FittedTransform.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert same(restored.transform_rows(rows), out)
    with pytest.raises(InvalidRequest, match="column 'Lot_Area', row 0: expected a number"):
        fitted.transform_rows([rows[0] | {"Lot_Area": "9000"}])
    with pytest.raises(InvalidRequest, match="derive function .* failed"):
        fitted.transform_rows([rows[0] | {"Year_Built": "1990"}])


def test_derive_function_failures_are_data_errors(small: pd.DataFrame) -> None:
    with pytest.raises(
        DataError, match=f"derive function {add_house_age.__module__}:add_house_age failed"
    ):
        learn_transform(small, TransformSpec(derive=f"{add_house_age.__module__}:add_house_age"))
    with pytest.raises(DataError, match="has no function 'nothing_here'"):
        learn_transform(small, TransformSpec(derive=f"{__name__}:nothing_here"))
