"""The fitted transform: learning, both application paths, errors, persistence."""

from __future__ import annotations

import json
import math
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shipyard.data.transform import (
    FittedTransform,
    TransformLearner,
    TransformSpec,
    TransformStats,
    learn_transform,
)
from shipyard.datasets import AMES_TARGET, load_ames
from shipyard.errors import DataError, InvalidRequest, SchemaMismatch


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
    """Apply both paths, check they agree (output and counts), return the output."""
    frame_stats, rows_stats = TransformStats(), TransformStats()
    from_frame = fitted.transform_frame(frame, stats=frame_stats)
    from_rows = fitted.transform_rows(rows, stats=rows_stats)
    assert same(from_frame, from_rows)
    assert frame_stats == rows_stats
    return from_frame


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return load_ames()


@pytest.fixture(scope="module")
def ames_split(ames: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = ames.sample(frac=1.0, random_state=7)
    return shuffled.iloc[:2200], shuffled.iloc[2200:]


@pytest.fixture()
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": [50.0, 70.0, None, 90.0],
            "rooms": [1, 2, 3, 4],
            "city": ["a", "b", "a", None],
            "price": [100, 200, 300, 400],
        }
    )


# -- learning -----------------------------------------------------------------------------


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


def test_spec_is_validated() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        TransformSpec(numeric=("a",), categorical=("a",))
    with pytest.raises(ValidationError, match="listed twice"):
        TransformSpec(numeric=("a",), drop=("a",))
    with pytest.raises(ValidationError):
        TransformSpec.model_validate({"encoding": "hashing"})
    with pytest.raises(ValidationError):
        TransformSpec(derive="not a reference")
    with pytest.raises(ValidationError):
        TransformSpec(max_categories=0)


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


# -- the two paths --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["onehot", "ordinal"])
@pytest.mark.parametrize("impute", ["median", "mean"])
def test_ames_frame_and_rows_are_identical(
    ames_split: tuple[pd.DataFrame, pd.DataFrame], encoding: str, impute: str
) -> None:
    train, test = ames_split
    spec = TransformSpec.model_validate(
        {"drop": [AMES_TARGET], "encoding": encoding, "impute": impute}
    )
    fitted = learn_transform(train, spec)
    out = both_paths(fitted, test, records(test))
    assert out.shape == (len(test), fitted.n_features)
    assert out.dtype == np.float64
    assert np.isfinite(out).all()


def test_ames_end_to_end_features_predict_the_price(
    ames_split: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from sklearn.linear_model import Ridge

    train, test = ames_split
    fitted = learn_transform(train, TransformSpec(drop=(AMES_TARGET,)))
    assert len(fitted.input_columns) == 73
    model = Ridge(alpha=10.0).fit(fitted.transform_frame(train), np.log(train[AMES_TARGET]))
    stored = FittedTransform.from_dict(json.loads(json.dumps(fitted.to_dict())))
    # The server's path, on a transform loaded from JSON, fed JSON-decoded requests.
    requests = json.loads(test.drop(columns=AMES_TARGET).to_json(orient="records"))
    predicted = model.predict(stored.transform_rows(requests))
    assert model.score(fitted.transform_frame(test), np.log(test[AMES_TARGET])) > 0.8
    assert np.allclose(predicted, model.predict(fitted.transform_frame(test)))


def test_both_paths_accept_numpy_scalars_and_extra_columns(small: pd.DataFrame) -> None:
    fitted = learn_transform(small, TransformSpec(drop=("price",)))
    rows = [{"area": np.float32(60.5), "rooms": np.int64(2), "city": np.str_("b"), "x": [1]}]
    frame = pd.DataFrame({"area": [60.5], "rooms": [2], "city": ["b"], "x": ["ignored"]})
    frame["area"] = frame["area"].astype(np.float32)
    both_paths(fitted, frame, rows)


# Cells as a JSON client could send them, and as pandas would hold them.
NUMBERS = st.one_of(
    st.none(),
    st.just(math.nan),
    st.integers(-(2**62), 2**62),
    st.floats(-1e9, 1e9),
)
WORDS = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", "c", "d", "e", "", " a", "é", "None", "1", "True"]),
    st.sampled_from([1, 2, 1.0, 2.5, math.nan, True, False]),  # compared by their text
)
COLUMNS = {"n1": NUMBERS, "n2": NUMBERS, "c1": WORDS, "c2": WORDS}
ROWS = st.lists(st.fixed_dictionaries({}, optional=COLUMNS), min_size=1, max_size=30)
SPECS = st.builds(
    TransformSpec,
    numeric=st.just(("n1", "n2")),
    categorical=st.just(("c1", "c2")),
    impute=st.sampled_from(["median", "mean"]),
    scaling=st.sampled_from(["standard", "none"]),
    encoding=st.sampled_from(["onehot", "ordinal"]),
    max_categories=st.integers(1, 6),
)


def as_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS))


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(train=ROWS, test=ROWS, spec=SPECS)
def test_frame_and_rows_identical_on_generated_data(
    train: list[dict[str, Any]], test: list[dict[str, Any]], spec: TransformSpec
) -> None:
    fitted = learn_transform(as_frame(train), spec)
    frame = as_frame(test)
    out = both_paths(fitted, frame, test)  # raw rows, keys left out included
    assert same(out, fitted.transform_rows(records(frame)))
    assert out.shape == (len(test), fitted.n_features)
    assert not np.isnan(out).any()
    restored = FittedTransform.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert same(restored.transform_rows(test), out)


# -- unseen and missing values --------------------------------------------------------------


def test_unseen_categories_go_to_other_and_are_counted(small: pd.DataFrame) -> None:
    fitted = learn_transform(small, TransformSpec(drop=("price",), scaling="none"))
    stats = TransformStats()
    out = fitted.transform_rows(
        [{"area": 1.0, "rooms": 1, "city": "zzz"}, {"area": 1.0, "rooms": 1, "city": "a"}],
        stats=stats,
    )
    assert out.tolist() == [[1.0, 1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0]]
    assert stats == TransformStats(rows=2, unseen={"city": 1})  # type: ignore[arg-type]


def test_missing_values_are_imputed_and_counted(small: pd.DataFrame) -> None:
    fitted = learn_transform(small, TransformSpec(drop=("price",), scaling="none"))
    rows: list[dict[str, Any]] = [
        {"area": None, "rooms": math.nan, "city": None},
        {"city": math.nan},  # absent keys count as missing
    ]
    stats = TransformStats()
    out = fitted.transform_rows(rows, stats=stats)
    assert out.tolist() == [[70.0, 2.5, 0.0, 0.0, 0.0]] * 2
    assert stats.missing == {"area": 2, "rooms": 2, "city": 2}
    frame = pd.DataFrame({"area": [None, None], "rooms": [None, None], "city": [None, None]})
    assert same(fitted.transform_frame(frame), out)


def test_mean_imputation_and_standard_scaling() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 9.0]})
    fitted = learn_transform(frame, TransformSpec(impute="mean"))
    mean, std = 4.0, float(np.std([1.0, 2.0, 9.0]))
    assert fitted.transform_rows([{"x": None}, {"x": 9}]).tolist() == [
        [(4.0 - mean) / std],
        [(9.0 - mean) / std],
    ]


def test_ordinal_codes(small: pd.DataFrame) -> None:
    fitted = learn_transform(
        small, TransformSpec(categorical=("city",), numeric=(), encoding="ordinal")
    )
    out = fitted.transform_rows([{"city": "a"}, {"city": "b"}, {"city": "new"}, {}])
    assert out.tolist() == [[0.0], [1.0], [2.0], [-1.0]]
    assert fitted.feature_names == ("city",)


# -- bad input ------------------------------------------------------------------------------


@pytest.fixture()
def fitted_small(small: pd.DataFrame) -> FittedTransform:
    return learn_transform(small, TransformSpec(drop=("price",)))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.5", "expected a number, got the text '12.5'; send numbers as JSON numbers"),
        (True, "expected a number, got the boolean True"),
        ([1.0], "expected a number, got a list"),
        ({"v": 1}, "expected a number, got a dict"),
        (math.inf, "expected a finite number, got inf"),
        (10**400, "the number is too large"),
    ],
)
def test_rows_refuse_bad_numbers(fitted_small: FittedTransform, value: Any, reason: str) -> None:
    stats = TransformStats()
    rows = [{"area": 1.0, "rooms": 1, "city": "a"}, {"area": value, "rooms": 1, "city": "a"}]
    with pytest.raises(InvalidRequest) as caught:
        fitted_small.transform_rows(rows, stats=stats)
    assert str(caught.value).startswith("row 1, column 'area': ")
    assert reason in str(caught.value)
    assert caught.value.field == "area"
    assert stats == TransformStats()  # nothing half-counted


@pytest.mark.parametrize("value", [["a"], {"a": 1}, b"a"])
def test_rows_refuse_bad_categories(fitted_small: FittedTransform, value: Any) -> None:
    with pytest.raises(InvalidRequest, match="row 0, column 'city': expected text") as caught:
        fitted_small.transform_rows([{"city": value}])
    assert caught.value.field == "city"


def test_rows_must_be_mappings(fitted_small: FittedTransform) -> None:
    with pytest.raises(InvalidRequest, match="row 1 is a list; each row must be an object"):
        fitted_small.transform_rows([{}, [1, 2, 3]])  # type: ignore[list-item]


def test_frames_refuse_missing_columns_and_bad_types(fitted_small: FittedTransform) -> None:
    good = pd.DataFrame({"area": [1.0], "rooms": [1], "city": ["a"]})
    with pytest.raises(SchemaMismatch, match="column 'rooms' is missing") as caught:
        fitted_small.transform_frame(good.drop(columns="rooms"))
    assert caught.value.column == "rooms"
    with pytest.raises(SchemaMismatch, match=r"2 columns \('area', 'rooms'\) are missing"):
        fitted_small.transform_frame(good[["city"]])
    text = good.assign(area=pd.Series(["12.5"], index=good.index, dtype="str"))
    with pytest.raises(SchemaMismatch, match="column 'area', row 0: expected a number, got the"):
        fitted_small.transform_frame(text)
    with pytest.raises(SchemaMismatch, match="'rooms' holds booleans"):
        fitted_small.transform_frame(good.assign(rooms=[True]))
    with pytest.raises(SchemaMismatch, match="column 'area', row 0: expected a finite number"):
        fitted_small.transform_frame(good.assign(area=[np.inf]))
    with pytest.raises(SchemaMismatch, match="column 'city', row 0: expected text"):
        fitted_small.transform_frame(good.assign(city=pd.Series([[1]], dtype=object)))


# -- persistence ----------------------------------------------------------------------------


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


# -- derived columns ------------------------------------------------------------------------


def test_derived_columns_on_both_paths(ames_split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = ames_split
    spec = TransformSpec(drop=(AMES_TARGET,), derive=f"{__name__}:add_house_age")
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
    with pytest.raises(DataError, match=f"derive function {__name__}:add_house_age failed"):
        learn_transform(small, TransformSpec(derive=f"{__name__}:add_house_age"))
    with pytest.raises(DataError, match="has no function 'nothing_here'"):
        learn_transform(small, TransformSpec(derive=f"{__name__}:nothing_here"))
