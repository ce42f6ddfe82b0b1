"""Estimators by short name or dotted path; a missing extra or an unknown name is said."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shipyard import Project
from shipyard.cli.app import app
from shipyard.config import CONFIG_FILE, parse_config
from shipyard.errors import ConfigError
from shipyard.modeling.estimators import ESTIMATORS, build_estimator, estimator_path
from tests.helpers import make_table


@pytest.mark.parametrize(
    ("name", "task", "path"),
    [
        (None, "regression", "sklearn.ensemble.HistGradientBoostingRegressor"),
        (
            "hist-gradient-boosting",
            "classification",
            "sklearn.ensemble.HistGradientBoostingClassifier",
        ),
        ("random-forest", "regression", "sklearn.ensemble.RandomForestRegressor"),
        ("linear", "classification", "sklearn.linear_model.LogisticRegression"),
        ("lightgbm", "regression", "lightgbm.LGBMRegressor"),
        ("lightgbm", "classification", "lightgbm.LGBMClassifier"),
        ("xgboost", "regression", "xgboost.XGBRegressor"),
        ("xgboost", "classification", "xgboost.XGBClassifier"),
        ("sklearn.linear_model.Lasso", "regression", "sklearn.linear_model.Lasso"),
    ],
)
def test_short_names_stand_for_one_class_per_task(name: str | None, task: str, path: str) -> None:
    assert estimator_path(name, task=task) == path  # type: ignore[arg-type]
    built = build_estimator(name, task=task, params={}, seed=3)  # type: ignore[arg-type]
    assert f"{type(built).__module__.partition('.')[0]}.{type(built).__name__}" == (
        f"{path.partition('.')[0]}.{path.rpartition('.')[2]}"
    )
    assert built.get_params().get("random_state") == 3


def test_lightgbm_is_quiet_unless_asked_to_speak() -> None:
    quiet = build_estimator("lightgbm", task="regression", params={"n_estimators": 5}, seed=0)
    assert quiet.get_params()["verbose"] == -1 and quiet.get_params()["n_estimators"] == 5
    loud = build_estimator("lightgbm", task="regression", params={"verbosity": 1}, seed=0)
    assert "verbose" not in loud.get_params() and loud.get_params()["verbosity"] == 1


def test_an_unknown_short_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        estimator_path("lightgmb", task="regression")
    message = str(caught.value)
    assert "'lightgmb' is not a known estimator (did you mean 'lightgbm'?)" in message
    assert all(name in message for name in ESTIMATORS)
    text = yaml.safe_dump(
        {"name": "p", "model": {"estimator": "xgbost"}, "store": {"database": "sqlite://"}}
    )
    with pytest.raises(ConfigError, match="field 'model.estimator'.*did you mean 'xgboost'"):
        parse_config(text, environ={})
    assert parse_config(text.replace("xgbost", "xgboost"), environ={}).model.estimator == (
        "xgboost"
    )


def test_a_missing_extra_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for library in ("lightgbm", "xgboost"):
        monkeypatch.setitem(sys.modules, library, None)  # as if not installed
        with pytest.raises(ConfigError) as caught:
            build_estimator(library, task="classification", params={}, seed=0)
        assert str(caught.value) == (
            f"model.estimator: cannot import {library}; install it with: "
            f"pip install 'shipyard[{library}]'"
        )


def test_init_writes_the_short_name_and_refuses_what_cannot_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_table(60, task="classification").to_csv(tmp_path / "houses.csv", index=False)
    result = CliRunner().invoke(
        app,
        ["init", str(tmp_path / "a"), "--data", str(tmp_path / "houses.csv"),
         "--target", "expensive", "--estimator", "xgboost"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / "a" / CONFIG_FILE).read_text())
    assert written["model"]["estimator"] == "xgboost"
    with Project.open(tmp_path / "a") as project:
        assert project.config.model.estimator == "xgboost"

    with pytest.raises(ConfigError, match="not a known estimator.*known: hist-gradient"):
        Project.init(tmp_path / "b", data=tmp_path / "houses.csv", target="expensive",
                     estimator="catboost")  # fmt: skip
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(ConfigError, match=r"pip install 'shipyard\[lightgbm\]'"):
        Project.init(tmp_path / "c", data=tmp_path / "houses.csv", target="expensive",
                     estimator="lightgbm")  # fmt: skip
    assert not (tmp_path / "b" / CONFIG_FILE).exists()
    assert not (tmp_path / "c" / CONFIG_FILE).exists()
    with pytest.raises(ConfigError, match="give data too"):
        Project.init(tmp_path / "d", estimator="lightgbm")
