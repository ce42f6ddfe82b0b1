"""Training frames and a fitted transform for the transform tests."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard.data.transform import (
    FittedTransform,
    TransformSpec,
    learn_transform,
)
from shipyard.demo_data import load_ames


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


@pytest.fixture()
def fitted_small(small: pd.DataFrame) -> FittedTransform:
    return learn_transform(small, TransformSpec(drop=("price",)))
