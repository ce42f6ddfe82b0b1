"""The shipyard.yaml that ``init --data`` writes: task inferred from the target column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shipyard.components.configuration import infer_task, standard_config
from shipyard.errors import ConfigError


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (pd.Series([1.5, 2.25, 3.0]), "regression"),  # fractional numbers
        (pd.Series(range(50)), "regression"),  # many whole numbers
        (pd.Series([0, 1, 1, 0, None]), "classification"),  # a few whole numbers
        (pd.Series(["yes", "no"]), "classification"),
        (pd.Series([True, False]), "classification"),
    ],
)
def test_infer_task(values: pd.Series, task: str) -> None:
    assert infer_task(values) == task


def test_standard_config_names_the_model_after_the_file_and_gates_by_task(
    tmp_path: Path,
) -> None:
    pd.DataFrame({"size": [1.0, 2.0], "sold": ["yes", "no"]}).to_csv(
        tmp_path / "houses.csv.gz", index=False
    )
    config = standard_config(
        "demo", root=tmp_path, data=tmp_path / "houses.csv.gz", target="sold", task=None
    )
    assert config.data is not None
    assert (config.data.task, config.data.source, config.model_name) == (
        "classification",
        "houses.csv.gz",
        "houses",
    )
    assert set(config.evaluation.thresholds) == {"roc_auc"}
    with pytest.raises(ConfigError, match="column 'price' is not in .*; its columns: size, sold"):
        standard_config(
            "demo", root=tmp_path, data=tmp_path / "houses.csv.gz", target="price", task=None
        )
