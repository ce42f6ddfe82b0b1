"""Schema inference rules and the YAML file a person edits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.schema import ColumnSchema, Schema, infer_schema
from shipyard.data.statistics import compute_statistics
from shipyard.errors import DataError, SchemaMismatch


def test_inferred_schema_follows_the_documented_rules() -> None:
    rng = np.random.default_rng(9)
    size = 1_000
    with_gaps = rng.normal(size=size)
    with_gaps[:100] = np.nan
    frame = pd.DataFrame(
        {
            "count": rng.integers(10, 20, size=size),
            "price": rng.uniform(100.0, 200.0, size=size),
            "delta": rng.uniform(-1.0, 1.0, size=size),
            "gappy": with_gaps,
            "city": rng.choice(["Ames", "Boone", "Cedar"], size=size),
            "id": [f"row-{i}" for i in range(size)],
            "flag": rng.random(size) < 0.5,
            "empty": [None] * size,
        }
    )
    stats = compute_statistics(frame)
    schema = infer_schema(stats)

    assert schema.column_names == list(frame.columns)
    assert [c.type for c in schema.columns] == [
        "int", "float", "float", "float", "str", "str", "bool", "str",
    ]  # fmt: skip
    count = schema.column("count")
    assert (count.min, count.max) == (9, 20)  # 10..19 widened by 0.9, then to whole numbers
    assert isinstance(count.min, int) and isinstance(count.max, int)
    price = schema.column("price")
    assert price.min is not None and price.max is not None
    span = frame["price"].max() - frame["price"].min()
    assert price.min == pytest.approx(frame["price"].min() - 0.1 * span, rel=1e-5)
    assert price.max == pytest.approx(frame["price"].max() + 0.1 * span, rel=1e-5)
    assert price.min <= frame["price"].min() and price.max >= frame["price"].max()
    delta = schema.column("delta")
    assert delta.min is not None and delta.min < -1.0  # may go negative: data was
    gappy = schema.column("gappy")
    assert (gappy.required, gappy.max_missing_fraction) == (True, 0.2)
    assert schema.column("city").domain == ["Ames", "Boone", "Cedar"]
    assert schema.column("id").domain is None  # too many values to list
    assert schema.column("flag").domain is None and schema.column("flag").min is None
    empty = schema.column("empty")
    assert (empty.required, empty.max_missing_fraction, empty.domain) == (False, 1.0, None)
    assert all(c.max_missing_fraction == 0.0 for c in schema.columns[:3])


def test_range_stays_non_negative_for_non_negative_data() -> None:
    schema = infer_schema(compute_statistics(pd.DataFrame({"x": [0.5, 100.0], "n": [0, 3]})))
    assert schema.column("x").min == 0.0 and schema.column("n").min == 0


def test_inference_options() -> None:
    stats = compute_statistics(pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]}))
    schema = infer_schema(stats, range_margin=0.0, max_domain_size=1)
    assert (schema.column("x").min, schema.column("x").max) == (0.0, 10.0)
    assert schema.column("c").domain is None
    with pytest.raises(ValueError, match="range_margin"):
        infer_schema(stats, range_margin=-1)


def test_yaml_is_readable_and_reads_back() -> None:
    stats = compute_statistics(pd.DataFrame({"Lot_Area": [8450, 9600], "Street": ["Pave", "Grvl"]}))
    text = infer_schema(stats).to_yaml()
    assert text.startswith("# shipyard schema")
    assert "- name: Lot_Area\n  type: int\n  required: true\n" in text
    assert "  domain:\n  - Grvl\n  - Pave\n" in text
    assert Schema.from_yaml(text) == infer_schema(stats)


def test_edited_yaml_is_accepted() -> None:
    schema = Schema.from_yaml(
        """
        columns:
          - {name: age, type: int, min: 0, max: 120}
          - {name: colour, type: str, required: false, domain: [red, "yes"]}
        """
    )
    assert schema.column("age").max_missing_fraction == 0.0
    assert schema.column("age").required is True
    assert schema.column("colour").domain == ["red", "yes"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [{name: a, type: integer}]", r"column 1 \('a'\): type: Input should be 'int'"),
        (
            "columns: [{name: a, type: int}, {name: b, type: int, max_missing_fraction: 2}]",
            r"column 2 \('b'\): max_missing_fraction: .*less than or equal to 1",
        ),
        ("columns: [{name: a, type: str, min: 1}]", r"'a'\): min/max apply to int and float"),
        ("columns: [{name: a, type: int, min: 5, max: 1}]", r"min \(5\) is greater than max"),
        ("columns: [{name: a, type: bool, domain: [x]}]", "domain applies to str columns"),
        ("columns: [{name: a, type: str, domain: [x, x]}]", "domain lists 'x' more than once"),
        ("columns: [{name: a, type: str, domain: [x, 1]}]", r"domain\.1: Input should be"),
        ("columns: [{name: a, type: int, requried: true}]", "requried: Extra inputs"),
        ("columns: [{type: int}]", r"column 1: name: Field required"),
        ("columns: [{name: a, type: int}, {name: a, type: str}]", "'a' are listed more than once"),
        ("columns: [{name: a, type: float, max: .inf}]", "bounds must be finite"),
        ("version: 2\ncolumns: []", "version: Input should be 1"),
        ("- a\n- b", "must be a YAML mapping"),
        ("columns: [", "not valid YAML"),
    ],
)
def test_invalid_yaml_names_the_field(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Schema.from_yaml(text)


def test_unknown_column_lookup() -> None:
    schema = Schema(columns=[ColumnSchema(name="a", type="int")])
    assert "a" in schema and "b" not in schema
    with pytest.raises(SchemaMismatch, match="'b' is not in the schema; its columns are: a"):
        schema.column("b")


def test_assignment_is_validated() -> None:
    column = ColumnSchema(name="a", type="int", min=0, max=10)
    with pytest.raises(ValueError, match="greater than max"):
        column.min = 11


# -- any valid schema survives the YAML round trip ---------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)
finite = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**60), 2**60)


@st.composite
def column_schemas(draw: st.DrawFn, name: str) -> ColumnSchema:
    column_type = draw(st.sampled_from(["int", "float", "bool", "str"]))
    column = ColumnSchema(
        name=name,
        type=column_type,
        required=draw(st.booleans()),
        max_missing_fraction=draw(st.floats(0.0, 1.0)),
    )
    if column_type in ("int", "float"):
        low, high = sorted([draw(finite), draw(finite)])
        column.min, column.max = draw(st.sampled_from([(low, high), (low, None), (None, None)]))
    if column_type == "str" and draw(st.booleans()):
        column.domain = draw(st.lists(names, unique=True, max_size=5))
    return column


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    column_names = draw(st.lists(names, unique=True, max_size=6))
    return Schema(columns=[draw(column_schemas(name)) for name in column_names])


@settings(max_examples=100)
@given(schemas())
def test_yaml_round_trip(schema: Schema) -> None:
    again = Schema.from_yaml(schema.to_yaml())
    assert again == schema
    for before, after in zip(schema.columns, again.columns, strict=True):
        assert type(before.min) is type(after.min)  # ints stay ints


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=40),
    st.floats(0.0, 1.0),
)
def test_inferred_range_contains_the_data(values: list[float], margin: float) -> None:
    stats = compute_statistics(pd.DataFrame({"x": values}))
    column = infer_schema(stats, range_margin=margin).column("x")
    assert column.min is not None and column.max is not None
    assert column.min <= min(values) and max(values) <= column.max
    assert not any(map(math.isinf, (column.min, column.max)))
