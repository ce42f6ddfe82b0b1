"""Schema skew: each share on a crafted window, and none on data like the schema's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.data.schema import ColumnSchema, Schema, infer_schema
from shipyard.data.skew import MissingShare, SkewReport, TypeMismatch, schema_skew
from shipyard.data.statistics import DatasetStatistics, compute_statistics


def _stats(**columns: object) -> DatasetStatistics:
    return compute_statistics(pd.DataFrame(columns))


SCHEMA = Schema(
    columns=[
        ColumnSchema(name="area", type="int", min=0, max=100),
        ColumnSchema(name="price", type="float", min=10.0, max_missing_fraction=0.1),
        ColumnSchema(name="street", type="str", domain=["Pave", "Grvl"]),
        ColumnSchema(name="garage", type="bool"),
        ColumnSchema(name="lot", type="float"),
        ColumnSchema(name="fence", type="str", required=False),
    ]
)


def test_data_like_the_schema_has_no_skew() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "area": rng.integers(0, 101, 1_000),
            "street": rng.choice(["Pave", "Grvl"], 1_000),
            "x": rng.normal(size=1_000),
        }
    )
    statistics = compute_statistics(frame)
    report = schema_skew(infer_schema(statistics), statistics, reference=statistics)
    assert report.missing_columns == [] and report.type_mismatches == []
    assert report.unseen_share == {"street": 0.0}
    assert report.out_of_range_share == {"area": 0.0, "x": 0.0}
    assert report.missing_share["x"] == MissingShare(0.0, 0.0, 0.0)
    assert report.worst == {
        "unseen_share": 0.0,
        "missing_share": 0.0,
        "out_of_range_share": 0.0,
        "missing_columns": 0.0,
        "type_mismatches": 0.0,
    }


def test_missing_columns_are_required_ones_absent_or_empty() -> None:
    window = _stats(area=[1, 2], price=[np.nan, np.nan], fence=[None, None])
    report = schema_skew(SCHEMA, window)
    # street, garage, lot are absent; price has no values; fence is optional.
    assert report.missing_columns == ["price", "street", "garage", "lot"]
    assert report.missing_share["price"] == MissingShare(1.0, None, 0.1)
    assert set(report.missing_share) == {"area", "price", "fence"}
    assert report.worst["missing_columns"] == 4.0


def test_numeric_against_text_is_a_type_mismatch_but_int_against_float_is_not() -> None:
    window = _stats(
        area=[1.0, 2.0],  # ints arriving as floats from JSON: normal
        price=[11, 12],
        street=[1, 2],
        garage=["yes", "no"],
        lot=[True, False],
    )
    report = schema_skew(SCHEMA, window)
    assert report.type_mismatches == [
        TypeMismatch("street", "str", "int"),
        TypeMismatch("garage", "bool", "str"),
        TypeMismatch("lot", "float", "bool"),
    ]
    assert "street" not in report.unseen_share  # no domain check on mistyped values
    assert report.out_of_range_share == {"area": 0.0, "price": 0.0}
    assert report.worst["type_mismatches"] == 3.0


def test_unseen_share_counts_values_outside_the_domain() -> None:
    window = _stats(street=["Pave"] * 70 + ["Dirt"] * 20 + ["Gravel"] * 10 + [None] * 100)
    report = schema_skew(SCHEMA, window)
    assert report.unseen_share == {"street": pytest.approx(0.3)}  # of present values
    assert report.missing_share["street"].current == 0.5
    assert report.worst["unseen_share"] == pytest.approx(0.3)


def test_missing_share_sits_beside_the_reference_and_the_allowed_share() -> None:
    reference = _stats(price=[20.0] * 95 + [np.nan] * 5, area=[1] * 100)
    window = _stats(price=[20.0] * 60 + [np.nan] * 40, area=[1] * 90 + [None] * 10)
    report = schema_skew(SCHEMA, window, reference=reference)
    assert report.missing_share == {
        "area": MissingShare(pytest.approx(0.1), 0.0, 0.0),  # type: ignore[arg-type]
        "price": MissingShare(0.4, pytest.approx(0.05), 0.1),  # type: ignore[arg-type]
    }
    assert report.worst["missing_share"] == 0.4


def test_out_of_range_share_comes_from_the_sketch_ranks() -> None:
    values = np.linspace(-50.0, 150.0, 2_001)  # 25% below 0, 25% above 100
    report = schema_skew(SCHEMA, _stats(area=values, price=np.linspace(0.0, 100.0, 2_001)))
    assert report.out_of_range_share["area"] == pytest.approx(0.5, abs=0.02)
    assert report.out_of_range_share["price"] == pytest.approx(0.1, abs=0.02)  # below 10
    assert report.worst["out_of_range_share"] == report.out_of_range_share["area"]
    inside = schema_skew(SCHEMA, _stats(area=[0, 50, 100]))
    assert inside.out_of_range_share == {"area": 0.0}


def test_report_is_json_compatible() -> None:
    window = _stats(area=[500], street=["Dirt"], garage=["no"])
    report = schema_skew(SCHEMA, window, reference=window)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["type_mismatches"] == [{"column": "garage", "expected": "bool", "found": "str"}]
    assert data["missing_share"]["area"] == {"current": 0.0, "reference": 0.0, "allowed": 0.0}
    assert data["unseen_share"] == {"street": 1.0} and data["out_of_range_share"] == {"area": 1.0}
    assert isinstance(report, SkewReport) and data["missing_columns"] == ["price", "lot"]
