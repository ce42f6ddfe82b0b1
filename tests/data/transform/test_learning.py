"""Learning a transform: columns, named state, refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.data.transform import (
    TransformLearner,
    TransformSpec,
    TransformStats,
    learn_transform,
)
from shipyard.demo_data import AMES_TARGET
from shipyard.errors import DataError, SchemaMismatch
from tests.data.transform.helpers import both_paths


def test_fit_infers_columns_and_learns_named_state(small: pd.DataFrame) -> None:
    fitted = TransformLearner(TransformSpec(drop=("price",))).fit(small)
    assert fitted.numeric_columns == ("area", "rooms")
    assert fitted.categorical_columns == ("city",)
    assert fitted.input_columns == ("area", "rooms", "city")
    assert fitted.medians == {"area": 70.0, "rooms": 2.5}
    assert fitted.means == {"area": 70.0, "rooms": 2.5}
    assert fitted.scales["area"] == pytest.approx(np.std([50.0, 70.0, 90.0]))
    assert fitted.vocabularies == {"city": ("a", "b")}
    assert fitted.feature_names == ("area", "rooms", "city=a", "city=b", "city=<other>")
    assert fitted.n_features == 5
    assert "2 numeric, 1 categorical -> 5 features" in repr(fitted)


def test_constructor_only_stores_the_spec() -> None:
    spec = TransformSpec(impute="mean")
    assert TransformLearner(spec).spec is spec
    assert TransformLearner().spec == TransformSpec()


def test_fit_uses_only_the_training_split(
    ames_split: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, test = ames_split
    test = test.copy()
    test.loc[test.index[0], "Neighborhood"] = "Atlantis"
    fitted = learn_transform(train, TransformSpec(drop=(AMES_TARGET,)))
    assert fitted.medians["Lot_Area"] == float(train["Lot_Area"].median())
    assert fitted.medians["Lot_Area"] != float(test["Lot_Area"].median())
    assert fitted.means["Gr_Liv_Area"] == pytest.approx(train["Gr_Liv_Area"].mean())
    assert set(fitted.vocabularies["Neighborhood"]) == set(train["Neighborhood"])
    stats = TransformStats()
    fitted.transform_frame(test, stats=stats)
    assert stats.unseen["Neighborhood"] >= 1


def test_max_categories_keeps_the_most_frequent() -> None:
    frame = pd.DataFrame({"c": ["x"] * 5 + ["y"] * 3 + ["z"] * 3 + ["w"]})
    fitted = learn_transform(frame, TransformSpec(max_categories=2))
    # y and z tie on count; the tie is broken by the value, so the result is stable.
    assert fitted.vocabularies == {"c": ("x", "y")}
    out = fitted.transform_rows([{"c": "z"}, {"c": "w"}, {"c": "x"}])
    assert out.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


def test_explicit_columns_are_taken_as_complete(small: pd.DataFrame) -> None:
    spec = TransformSpec(numeric=("rooms",), categorical=("city",))
    fitted = learn_transform(small, spec)
    assert fitted.input_columns == ("rooms", "city")
    # A numeric-looking column listed as categorical is compared by its text.
    as_category = learn_transform(small, TransformSpec(categorical=("rooms",), drop=("price",)))
    assert as_category.vocabularies["rooms"] == ("1", "2", "3", "4")
    out = as_category.transform_rows([{"rooms": 2}, {"rooms": 2.0}, {"rooms": "2"}])
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()


def test_inference_of_bools_objects_and_unusable_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "flag": [True, False, True],
            "count": pd.Series([1, None, 3], dtype=object),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    with pytest.raises(SchemaMismatch, match="'when' has dtype datetime64") as caught:
        learn_transform(frame)
    assert caught.value.column == "when"
    fitted = learn_transform(frame, TransformSpec(drop=("when",)))
    assert fitted.numeric_columns == ("count",)
    assert fitted.vocabularies == {"flag": ("False", "True")}
    rows: list[dict[str, Any]] = [{"flag": True, "count": 1}, {"flag": False}, {"flag": True}]
    rows[2]["count"] = 3
    assert both_paths(fitted, frame, rows).shape == (3, 4)


def test_constant_and_empty_numeric_columns() -> None:
    frame = pd.DataFrame({"same": [3.0, 3.0, 3.0], "none": [np.nan, np.nan, np.nan]})
    fitted = learn_transform(frame)
    assert fitted.scales == {"same": 1.0, "none": 1.0}
    assert fitted.medians["none"] == 0.0
    assert fitted.transform_rows([{"same": 5.0}]).tolist() == [[2.0, 0.0]]


def test_fit_refuses_frames_it_cannot_learn_from(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="empty frame"):
        learn_transform(small.iloc[:0])
    with pytest.raises(DataError, match="no feature columns"):
        learn_transform(small, TransformSpec(drop=tuple(small.columns)))
    with pytest.raises(SchemaMismatch, match="'size' is missing") as caught:
        learn_transform(small, TransformSpec(numeric=("size",)))
    assert caught.value.column == "size"
    with pytest.raises(DataError, match="expected a pandas DataFrame"):
        learn_transform([{"a": 1}])  # type: ignore[arg-type]
    with pytest.raises(SchemaMismatch, match="appears twice"):
        learn_transform(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(SchemaMismatch, match="column names must be text"):
        learn_transform(pd.DataFrame([[1, 2]]))
