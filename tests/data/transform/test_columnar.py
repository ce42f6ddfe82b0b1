"""The columns path gives exactly what the rows path gives: arrays, refusals and counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.data.transform import FittedTransform, TransformSpec, TransformStats, learn_transform
from shipyard.data.transform.columnar import columns_of
from shipyard.errors import DataError, InvalidRequest
from tests.data.transform.helpers import as_columns

TRAIN = pd.DataFrame(
    {
        "n1": [1.0, 2.5, None, 4.0, -3.0, 7.0],
        "n2": [10, 20, 30, 40, 50, 60],
        "c1": ["a", "b", "a", None, "c", "1"],
        "c2": ["x", "y", "True", "x", "20", None],
    }
)

# Every kind of cell a JSON client could send, the refused ones included.
CELLS = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**1100, -(2**1100)]),  # beyond float64: "too large" in numbers
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["a", "b", "c", "1", "20", "True", "unseen", "", "None", "1.5"]),
    st.booleans(),
    st.sampled_from([[1], {"a": 1}, (2,)]),
)
NAMES = ("n1", "n2", "c1", "c2")
ROWS = st.lists(
    st.fixed_dictionaries({}, optional=dict.fromkeys(NAMES, CELLS)), min_size=1, max_size=12
)


@pytest.fixture(scope="module", params=["onehot", "ordinal"])
def fitted(request: pytest.FixtureRequest) -> FittedTransform:
    spec = TransformSpec(numeric=("n1", "n2"), categorical=("c1", "c2"), encoding=request.param)
    return learn_transform(TRAIN, spec)


def outcome(call: Any) -> tuple[Any, ...]:
    """What a transform call gives: its bytes and counts, or its refusal."""
    stats = TransformStats()
    try:
        out = call(stats)
    except InvalidRequest as exc:
        assert stats == TransformStats()  # nothing is counted for a refused call
        return ("refused", str(exc), exc.field, exc.row)
    return ("features", out.shape, out.tobytes(), stats)


def rows_and_columns(fitted: FittedTransform, rows: list[dict[str, Any]], columns: Any) -> None:
    by_rows = outcome(lambda stats: fitted.transform_rows(rows, stats=stats))
    by_columns = outcome(lambda stats: fitted.transform_columns(columns, len(rows), stats=stats))
    assert by_columns == by_rows
    assert outcome(lambda stats: fitted.transform_batch(rows, stats=stats)) == by_rows


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_columns_and_rows_agree_on_any_cells(
    fitted: FittedTransform, rows: list[dict[str, Any]]
) -> None:
    rows_and_columns(fitted, rows, as_columns(rows))


# Cells as a well-behaved client sends them (the columns path's quickest case).
NUMBER = st.one_of(st.none(), st.integers(-(2**53), 2**53), st.floats(-1e300, 1e300))
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "1", "20", "True", "x", "y", "?"]))
TYPED_ROWS = st.lists(
    st.fixed_dictionaries({"n1": NUMBER, "c1": TEXT}, optional={"n2": NUMBER, "c2": TEXT}),
    min_size=1,
    max_size=40,
)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(rows=TYPED_ROWS)
def test_columns_and_rows_agree_on_well_typed_cells(
    fitted: FittedTransform, rows: list[dict[str, Any]]
) -> None:
    rows_and_columns(fitted, rows, as_columns(rows))
    rows_and_columns(fitted, rows, columns_of(rows, ["n1", "n2", "c1", "c2"]))


# Rows with every column, read whole by the batch path (transform_records) unless a
# cell of another kind sends them through the columns.
FULL_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "n1": st.one_of(NUMBER, CELLS),
            "n2": st.one_of(NUMBER, CELLS),
            "c1": st.one_of(TEXT, CELLS),
            "c2": st.one_of(TEXT, CELLS),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rows=FULL_ROWS)
def test_rows_with_every_column_agree_on_any_cells(
    fitted: FittedTransform, rows: list[dict[str, Any]]
) -> None:
    rows_and_columns(fitted, rows, as_columns(rows))


@pytest.mark.parametrize(
    "cell", [math.inf, -math.inf, math.nan, True, 2**1100, 2.5, 20, "b", "unseen", [1], {"a": 1}]
)
@pytest.mark.parametrize("column", NAMES)
def test_one_cell_of_another_kind_among_rows_with_every_column(
    fitted: FittedTransform, column: str, cell: Any
) -> None:
    rows: list[dict[str, Any]] = [{"n1": 1.0, "n2": 2, "c1": "a", "c2": "x"} for _ in range(3)]
    rows[1][column] = cell
    rows_and_columns(fitted, rows, as_columns(rows))


def test_rows_of_a_json_body_agree(fitted: FittedTransform) -> None:
    # orjson gives the rows of a body the same key objects; a row may order them anew.
    rows = orjson.loads(
        b'[{"n1": 1.5, "n2": null, "c1": "a", "c2": "unseen"},'
        b' {"c2": "x", "c1": null, "n2": 7, "n1": -2},'
        b' {"n1": 1e308, "n2": 3, "c1": "1", "c2": "True", "extra": [1]}]'
    )
    rows_and_columns(fitted, rows, as_columns(rows))
    rows[1]["n2"] = True
    rows_and_columns(fitted, rows, as_columns(rows))


TENSORS = st.sampled_from(["float64", "float32", "float16", "int64", "uint8", "bool"])


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    count=st.integers(1, 12),
    kinds=st.tuples(TENSORS, TENSORS, TENSORS, TENSORS),
)
def test_numpy_tensors_read_as_their_python_values(
    fitted: FittedTransform, data: st.DataObject, count: int, kinds: tuple[str, ...]
) -> None:
    # An Open Inference Protocol tensor stays an array; the rows path reads its tolist().
    columns = {}
    for name, kind in zip(NAMES, kinds, strict=True):
        dtype = np.dtype(kind)
        if dtype.kind == "f":
            cells = st.one_of(
                st.floats(width=min(dtype.itemsize * 8, 64), allow_nan=True),  # type: ignore[arg-type]
                st.sampled_from([0.0, -0.0, 1.0, 20.0, math.nan]),
            )
        elif dtype.kind == "b":
            cells = st.booleans()
        else:
            info = np.iinfo(dtype)
            cells = st.one_of(st.integers(int(info.min), int(info.max)), st.sampled_from([1, 20]))
        columns[name] = np.array(data.draw(st.lists(cells, min_size=count, max_size=count)), dtype)
    rows = [
        dict(zip(NAMES, values, strict=True))
        for values in zip(*(c.tolist() for c in columns.values()), strict=True)
    ]
    rows_and_columns(fitted, rows, columns)


def test_a_column_left_out_is_missing_in_every_row(fitted: FittedTransform) -> None:
    rows: list[dict[str, Any]] = [{"n1": 1.0}, {"n1": None}]
    rows_and_columns(fitted, rows, {"n1": [1.0, None]})


def test_the_first_refused_cell_in_row_order_is_named(fitted: FittedTransform) -> None:
    columns = {"n1": [1.0, 2.0, "3"], "c2": [None, [1], None]}
    with pytest.raises(InvalidRequest) as refused:
        fitted.transform_columns(columns, 3)
    assert str(refused.value) == "row 1, column 'c2': expected text, got a list"
    assert (refused.value.field, refused.value.row) == ("c2", 1)


def test_columns_of_another_length_are_refused(fitted: FittedTransform) -> None:
    with pytest.raises(DataError, match="column 'n1' holds 1 values, not 2"):
        fitted.transform_columns({"n1": [1.0]}, 2)


def test_derived_columns_go_through_the_rows(fitted: FittedTransform) -> None:
    spec = TransformSpec.model_validate(
        {"drop": ["c2"], "derive": "tests.data.transform.test_columnar:add_n3"}
    )
    derived = learn_transform(TRAIN, spec)
    rows = [{"n1": 2.0, "n2": 3, "c1": "b", "c2": "x"}, {"n1": None, "n2": 4, "c1": "zz"}]
    rows_and_columns(derived, rows, as_columns(rows))


def add_n3(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(n3=frame["n1"] * frame["n2"])
