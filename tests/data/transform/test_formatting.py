"""The stored form of a fitted transform."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from shipyard.data.transform import (
    FittedTransform,
    TransformSpec,
    learn_transform,
)
from shipyard.demo_data import AMES_TARGET
from shipyard.errors import DataError
from tests.data.transform.helpers import records, same


def test_json_round_trip_gives_identical_output(
    ames_split: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, test = ames_split
    fitted = learn_transform(train, TransformSpec(drop=(AMES_TARGET,), impute="mean"))
    document = json.loads(json.dumps(fitted.to_dict(), allow_nan=False))
    restored = FittedTransform.from_dict(document)
    assert restored.to_dict() == fitted.to_dict()
    assert restored.feature_names == fitted.feature_names
    assert same(restored.transform_frame(test), fitted.transform_frame(test))
    assert same(restored.transform_rows(records(test)), fitted.transform_frame(test))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "pickle"}, "field 'format'"),
        ({"format_version": 2}, "field 'format_version'"),
        ({"scales": {"area": 0.0, "rooms": 1.0}}, "positive entry for column 'area'"),
        ({"medians": {"area": float("nan"), "rooms": 1.0}}, "field 'medians.area'"),
        ({"vocabularies": {}}, "no entry for column 'city'"),
        ({"vocabularies": {"city": ["a", "a"]}}, "repeats a value"),
        ({"input_columns": ["area"]}, "input_columns must hold every"),
        ({"spec": {"encoding": "hashing"}}, "field 'spec.encoding'"),
        ({"surprise": 1}, "field 'surprise'"),
    ],
)
def test_from_dict_refuses_invalid_documents(
    fitted_small: FittedTransform, change: dict[str, Any], message: str
) -> None:
    document = fitted_small.to_dict() | change
    with pytest.raises(DataError, match="the stored transform is invalid") as caught:
        FittedTransform.from_dict(document)
    assert message in str(caught.value)


def test_loading_never_imports_the_derive_function(fitted_small: FittedTransform) -> None:
    document = fitted_small.to_dict()
    document["spec"] = document["spec"] | {"derive": "no_such_module_for_shipyard:derive"}
    restored = FittedTransform.from_dict(document)  # loads: nothing imported yet
    with pytest.raises(DataError, match="cannot import 'no_such_module_for_shipyard'"):
        restored.transform_rows([{"area": 1.0}])
