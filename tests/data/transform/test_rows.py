"""The rows path gives exactly what the frame path gives."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.data.transform import (
    FittedTransform,
    TransformSpec,
    learn_transform,
)
from shipyard.demo_data import AMES_TARGET
from shipyard.errors import InvalidRequest
from tests.data.transform.helpers import both_paths, records, same


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


def test_rows_must_be_mappings(fitted_small: FittedTransform) -> None:
    with pytest.raises(InvalidRequest, match="row 1 is a list; each row must be an object"):
        fitted_small.transform_rows([{}, [1, 2, 3]])  # type: ignore[list-item]
