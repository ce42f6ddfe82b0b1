"""Validation: each anomaly kind on a crafted case, and silence on clean data."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from shipyard.data.schema import ColumnSchema, Schema, infer_schema
from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.data.validation import Anomaly, ValidationReport, validate_statistics
from shipyard.errors import DataError, ValidationFailed


def _reference(size: int = 2_000, seed: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "area": rng.integers(1_000, 20_000, size=size),
            "price": rng.lognormal(12.0, 0.3, size=size),
            "street": rng.choice(["Pave", "Grvl"], size=size),
            "garage": rng.random(size) < 0.7,
        }
    )


def _kinds(report: ValidationReport) -> list[tuple[str | None, str, str]]:
    return [(a.column, a.kind, a.severity) for a in report.anomalies]


def test_clean_data_has_no_anomalies() -> None:
    stats = compute_statistics(_reference())
    schema = infer_schema(stats)
    fresh = compute_statistics(_reference(seed=11))

    assert validate_statistics(stats, schema).anomalies == []
    report = validate_statistics(fresh, schema, previous=stats)
    assert report.anomalies == [] and not report.has_errors
    assert [r.column for r in report.drift] == ["area", "price", "street", "garage"]
    assert not any(r.drifted for r in report.drift)


def test_each_anomaly_kind_is_reported() -> None:
    reference = _reference()
    previous = compute_statistics(reference)
    inferred = infer_schema(previous)
    schema = Schema(columns=[*inferred.columns, ColumnSchema(name="lot", type="float")])
    bad = reference.head(500).assign(extra=1)
    bad["area"] = bad["area"].astype(str)  # the column became text
    bad["price"] = bad["price"] * 3  # beyond the range, and drifted
    # 1.2% of unseen values: an anomaly (over the 1% a sample may miss), but not drift
    # (2% would be a Jensen-Shannon distance of about sqrt(0.02 / 2) = 0.1, the floor).
    bad.loc[:5, "street"] = ["Dirt"] * 3 + ["Gravel"] * 3
    bad["garage"] = bad["garage"].astype("boolean")
    bad.loc[:99, "garage"] = pd.NA
    report = validate_statistics(compute_statistics(bad), schema, previous=previous)

    assert sorted(_kinds(report), key=str) == sorted(
        [
            ("area", "type_change", "error"),
            ("price", "out_of_range", "warning"),
            ("street", "unseen_categories", "warning"),
            ("garage", "missing_values", "error"),
            ("lot", "missing_column", "error"),
            ("extra", "unexpected_column", "warning"),
            (None, "dataset_size", "warning"),
            ("price", "drift", "warning"),
        ],
        key=str,
    )
    assert report.has_errors
    for anomaly in report.anomalies:
        if anomaly.column is not None:
            assert repr(anomaly.column) in anomaly.message
    messages = {a.kind: a.message for a in report.anomalies}
    assert "holds str values but the schema expects int" in messages["type_change"]
    assert (
        "2 value(s) outside the schema's domain of 2: 'Dirt', 'Gravel'"
        in (messages["unseen_categories"])
    )
    assert (
        "20.00% missing (100 of 500 rows); the schema allows at most 0.00%"
        in (messages["missing_values"])
    )
    assert "500 rows, 4x fewer than the previous version's 2,000" in messages["dataset_size"]
    upper = inferred.column("price").max
    assert upper is not None
    share = re.search(r"about ([0-9.]+)% outside", messages["out_of_range"])
    assert share is not None
    assert float(share.group(1)) / 100 == pytest.approx((bad["price"] > upper).mean(), abs=0.03)


def test_int_and_float_changes() -> None:
    schema = Schema(
        columns=[ColumnSchema(name="n", type="int"), ColumnSchema(name="f", type="float")]
    )
    stats = compute_statistics(pd.DataFrame({"n": [1.5, 2.5], "f": [1, 2]}))
    assert _kinds(validate_statistics(stats, schema)) == [("n", "type_change", "warning")]


def test_a_sample_may_miss_a_little_of_the_range_and_domain() -> None:
    schema = Schema(
        columns=[
            ColumnSchema(name="x", type="float", min=0.0, max=1.0),
            ColumnSchema(name="c", type="str", domain=["a", "b"]),
        ]
    )
    rare = pd.DataFrame({"x": [1.5] + [0.5] * 199, "c": ["z"] + ["a"] * 199})
    assert validate_statistics(compute_statistics(rare), schema).anomalies == []
    strict = validate_statistics(compute_statistics(rare), schema, outside_tolerance=0.0)
    assert _kinds(strict) == [
        ("x", "out_of_range", "warning"),
        ("c", "unseen_categories", "warning"),
    ]
    common = pd.DataFrame({"x": [1.5] * 3 + [0.5] * 197, "c": ["z"] * 3 + ["a"] * 197})
    assert len(validate_statistics(compute_statistics(common), schema).anomalies) == 2


def test_out_of_range_reports_the_share_outside() -> None:
    schema = Schema(columns=[ColumnSchema(name="x", type="float", min=0.0, max=1.0)])
    stats = compute_statistics(pd.DataFrame({"x": np.linspace(-1.0, 1.0, 201)}))
    (anomaly,) = validate_statistics(stats, schema).anomalies
    assert "has values in [-1, 1] (about 49.75% outside); the schema allows [0, 1]" in (
        anomaly.message
    )
    strict = validate_statistics(stats, schema, range_severity="error")
    assert strict.has_errors
    open_ended = Schema(columns=[ColumnSchema(name="x", type="float", max=0.5)])
    (anomaly,) = validate_statistics(stats, open_ended).anomalies
    assert "allows [-inf, 0.5]" in anomaly.message


def test_optional_columns_may_be_absent_and_empty_data_is_an_error() -> None:
    schema = Schema(columns=[ColumnSchema(name="a", type="int", required=False)])
    empty = compute_statistics(pd.DataFrame({"b": pd.Series([], dtype="float64")}))
    assert _kinds(validate_statistics(empty, schema)) == [
        (None, "empty_dataset", "error"),
        ("b", "unexpected_column", "warning"),
    ]


def test_size_and_drift_options() -> None:
    rng = np.random.default_rng(12)
    previous = compute_statistics(pd.DataFrame({"x": rng.normal(size=1_000)}))
    current = compute_statistics(pd.DataFrame({"x": rng.normal(1.0, size=2_500)}))
    schema = infer_schema(previous, range_margin=10.0)

    default = validate_statistics(current, schema, previous=previous)
    assert _kinds(default) == [(None, "dataset_size", "warning"), ("x", "drift", "warning")]
    relaxed = validate_statistics(
        current, schema, previous=previous, size_change_bound=3.0, drift_thresholds=0.9
    )
    assert relaxed.anomalies == [] and relaxed.drift[0].threshold == 0.9
    strict = validate_statistics(
        current, schema, previous=previous, size_change_bound=3.0, drift_severity="error"
    )
    assert _kinds(strict) == [("x", "drift", "error")]
    with pytest.raises(ValueError, match="size_change_bound"):
        validate_statistics(current, schema, size_change_bound=0.5)


def test_report_round_trips_and_raises() -> None:
    stats = compute_statistics(pd.DataFrame({"x": [1.0, None]}))
    previous = compute_statistics(pd.DataFrame({"x": [1.0, 2.0]}))
    schema = infer_schema(previous)
    report = validate_statistics(stats, schema, previous=previous)

    again = ValidationReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report and again.errors == report.errors and report.drift
    with pytest.raises(ValidationFailed, match="1 error") as caught:
        report.raise_for_errors()
    assert caught.value.anomalies == report.errors
    ValidationReport(anomalies=report.warnings).raise_for_errors()  # warnings never raise


@pytest.mark.parametrize(
    "record",
    [
        {"anomalies": [{"column": "x", "kind": "odd", "severity": "error", "message": ""}]},
        {"anomalies": [{"column": "x", "kind": "drift", "severity": "fatal", "message": ""}]},
        {"anomalies": [{"column": "x"}], "drift": []},
        {"drift": []},
    ],
)
def test_bad_report_records_are_data_errors(record: dict[str, object]) -> None:
    with pytest.raises(DataError):
        ValidationReport.from_dict({"drift": [], **record})


def test_anomaly_round_trip() -> None:
    anomaly = Anomaly(None, "dataset_size", "warning", "the dataset has 1 row")
    assert Anomaly.from_dict(anomaly.to_dict()) == anomaly


def test_statistics_from_an_artifact_validate_like_fresh_ones() -> None:
    stats = compute_statistics(_reference())
    stored = DatasetStatistics.from_dict(json.loads(json.dumps(stats.to_dict())))
    schema = infer_schema(stored)
    assert schema == infer_schema(stats)
    assert validate_statistics(stored, schema, previous=stats).anomalies == []
