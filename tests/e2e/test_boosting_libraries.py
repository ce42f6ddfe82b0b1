"""LightGBM and XGBoost through the whole pipeline: trained, packaged with skops, loaded,
and answering with the library's own numbers through the package, the server and
``shipyard predict``."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.data.schema import Schema
from shipyard.errors import ArtifactCorrupted, ArtifactError, ShipyardError
from shipyard.modeling import ModelPackage, build_estimator, write_package
from tests.e2e.serving_fixtures import start_server
from tests.helpers import make_table, run_cli, warm_pool

PARAMS = {
    "lightgbm": {"n_estimators": 15, "num_leaves": 7, "min_child_samples": 5},
    "xgboost": {"n_estimators": 15, "max_depth": 3},
}
CLASSES = {"lightgbm": "LGBM", "xgboost": "XGB"}


def boosted_project(folder: Path, library: str, task: str) -> Project:
    folder.mkdir(parents=True)
    make_table(300, seed=1, task=task).to_csv(folder / "houses.csv", index=False)
    target = "price" if task == "regression" else "expensive"
    Project.init(folder, data=folder / "houses.csv", target=target, estimator=library).close()
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["model"]["params"] = PARAMS[library]
    settings["infra"]["requests"] = 10
    settings["infra"]["max_p99_ms"] = 2000  # a loaded test machine must not fail it
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    return Project.open(folder)


def library_answers(package: ModelPackage, rows: pd.DataFrame) -> tuple[list[Any], Any]:
    """What the library itself predicts for ``rows``: values (labels), probabilities."""
    features = package.transform.transform_frame(rows)
    estimator = package.estimator
    if package.task == "regression":
        return np.asarray(estimator.predict(features), dtype=np.float64).tolist(), None
    predicted = estimator.predict(features)
    if package.manifest.extra.get("estimator_classes") == "indices":
        assert package.classes is not None
        predicted = np.asarray(package.classes, dtype=object)[predicted]
    return list(predicted), np.asarray(estimator.predict_proba(features), dtype=np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_boosting_library_trains_serves_and_predicts_its_own_numbers(
    tmp_path: Path, library: str, task: str
) -> None:
    project = boosted_project(tmp_path / "houses", library, task)
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()
    version = project.registry.resolve("houses@production")
    assert version.blessed and version.infra_validated
    package = project.registry.load("houses@production").package
    kind = "Regressor" if task == "regression" else "Classifier"
    assert package.manifest.estimator == f"{library}.{CLASSES[library]}{kind}"
    assert type(package.estimator).__module__.startswith(f"{library}.")
    assert package.compiled  # the library's booster answers, without its wrapper
    metric = "r2" if task == "regression" else "roc_auc"
    assert version.metrics[metric] > (0.8 if task == "regression" else 0.9)

    held_out = make_table(40, seed=9, task=task).drop(
        columns=["price", "expensive"], errors="ignore"
    )
    values, probabilities = library_answers(package, held_out)
    predicted = package.predict_frame(held_out)
    assert predicted.values == values
    if task == "classification":
        assert package.classes == ["no", "yes"] and set(values) == {"no", "yes"}
        assert predicted.probabilities is not None
        assert predicted.probabilities.tobytes() == probabilities.tobytes()

    if task == "classification":  # through the server; regression through the batch
        answered_by_server(project.root, held_out, values, probabilities)
    else:
        predicted_in_batch(tmp_path, project.root, held_out, values)
    project.close()


def answered_by_server(
    root: Path, held_out: pd.DataFrame, values: list[Any], probabilities: Any
) -> None:
    rows = json.loads(held_out.to_json(orient="records"))
    server = start_server(root)
    try:
        with server.client() as client:
            answer = client.post("/predict", json={"instances": rows})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == values
            served = [[row["no"], row["yes"]] for row in answer.json()["probabilities"]]
            assert served == probabilities.tolist()  # JSON keeps every bit of a float64
            single = client.post("/predict", json={"instances": rows[:1]})
            assert single.json()["predictions"] == values[:1]
    finally:
        server.stop()


def predicted_in_batch(
    tmp_path: Path, root: Path, held_out: pd.DataFrame, values: list[Any]
) -> None:
    held_out.to_csv(tmp_path / "new.csv", index=False)
    batch = run_cli(
        "predict", "houses@production", "--input", str(tmp_path / "new.csv"),
        "--output", str(tmp_path / "out.parquet"), cwd=root,
    )  # fmt: skip
    assert batch.returncode == 0, batch.stderr
    assert pd.read_parquet(tmp_path / "out.parquet")["prediction"].tolist() == values


def fitted_package(tmp_path: Path, library: str) -> tuple[Path, pd.DataFrame]:
    """A three-class package with string labels, fitted as the Trainer fits."""
    from shipyard.data.transform import TransformLearner, TransformSpec
    from shipyard.modeling.estimators import encodes_labels

    table = make_table(200, seed=2, task="regression")
    table["band"] = pd.cut(table.pop("price"), 3, labels=["low", "mid", "high"]).astype(str)
    spec = TransformSpec(numeric=("size", "rooms", "age"), categorical=("area", "heating"))
    fitted = TransformLearner(spec).fit(table)
    estimator = build_estimator(library, task="classification", params=PARAMS[library], seed=0)
    labels = table["band"].to_numpy(dtype=object)
    classes = None
    if encodes_labels(estimator):
        found, labels = np.unique(labels, return_inverse=True)
        classes = found.tolist()
    estimator.fit(fitted.transform_frame(table), labels)
    write_package(
        tmp_path / "model",
        estimator=estimator,
        transform=fitted,
        schema=Schema(),
        task="classification",
        target="band",
        estimator_path=f"{library}.{CLASSES[library]}Classifier",
        params=PARAMS[library],
        classes=classes,
    )
    return tmp_path / "model", table.drop(columns=["band"])


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_a_package_round_trip_keeps_string_classes_and_exact_probabilities(
    tmp_path: Path, library: str
) -> None:
    folder, rows = fitted_package(tmp_path, library)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["classes"] == ["high", "low", "mid"]
    assert all(t.startswith(("collections.", f"{library}.")) for t in manifest["trusted_types"])
    loaded = ModelPackage.load(folder)
    values, probabilities = library_answers(loaded, rows)
    predicted = loaded.predict_frame(rows)
    assert predicted.values == values and set(values) <= {"high", "low", "mid"}
    assert predicted.probabilities is not None and predicted.probabilities.shape == (200, 3)
    assert predicted.probabilities.tobytes() == probabilities.tobytes()
    again = ModelPackage.load(folder).predict_frame(rows)
    assert again.values == values
    assert again.probabilities is not None
    assert again.probabilities.tobytes() == probabilities.tobytes()


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_an_untrusted_or_damaged_package_is_refused(tmp_path: Path, library: str) -> None:
    folder, _ = fitted_package(tmp_path, library)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())

    # A type of the library that is no model (a callback) is not trusted, even by name.
    untrusted = dict(
        manifest, trusted_types=[*manifest["trusted_types"], f"{library}.callback.EarlyStopping"]
    )
    manifest_path.write_text(json.dumps(untrusted))
    with pytest.raises(ArtifactCorrupted, match="EarlyStopping.*refusing to load it"):
        ModelPackage.load(folder)

    # A manifest that trusts less than the file holds: skops refuses the file.
    fewer = dict(
        manifest, trusted_types=[t for t in manifest["trusted_types"] if "Booster" not in t]
    )
    manifest_path.write_text(json.dumps(fewer))
    with pytest.raises(ArtifactError, match="cannot load the model package.*Booster"):
        ModelPackage.load(folder)

    # A damaged file: the library's own error becomes a shipyard error.
    manifest_path.write_text(json.dumps(manifest))
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    model = (damaged / "model.skops").read_bytes()
    (damaged / "model.skops").write_bytes(model[: len(model) // 2])
    with pytest.raises(ArtifactError, match="cannot load the model package"):
        ModelPackage.load(damaged)
    assert ModelPackage.load(folder).classes == ["high", "low", "mid"]


def test_a_damaged_xgboost_booster_in_a_whole_file_is_refused(tmp_path: Path) -> None:
    folder, _ = fitted_package(tmp_path, "xgboost")
    with zipfile.ZipFile(folder / "model.skops") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    (booster,) = [name for name in members if name.endswith(".bin")]  # XGBoost's own bytes
    members[booster] = members[booster][: len(members[booster]) // 2]
    with zipfile.ZipFile(folder / "model.skops", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ArtifactError, match="cannot load the model package"):
        ModelPackage.load(folder)


def test_parameters_lightgbm_refuses_fail_the_trainer_with_its_reason(tmp_path: Path) -> None:
    project = boosted_project(tmp_path / "houses", "lightgbm", "regression")
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["model"]["params"] = {"n_estimators": 5, "num_leaves": 1}
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.close()
    with Project.open(project.root) as reopened:
        result = reopened.run(reopened.standard_pipeline(), executor=warm_pool())
        with pytest.raises(ShipyardError) as caught:
            result.raise_for_failure()
    assert "LGBMRegressor could not be fitted" in str(caught.value)
    assert "num_leaves" in str(caught.value)
