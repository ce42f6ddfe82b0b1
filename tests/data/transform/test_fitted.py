"""The fitted transform: imputation, scaling, encoding and the counts it keeps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shipyard.data.transform import (
    TransformSpec,
    TransformStats,
    learn_transform,
)
from tests.data.transform.helpers import same


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
