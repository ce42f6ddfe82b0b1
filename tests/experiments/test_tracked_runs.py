"""Runs tracked outside pipelines (``shipyard.start_run``), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import Ridge

import shipyard
from shipyard import Project
from shipyard.data.transform import learn_transform
from shipyard.errors import DataError, PipelineError
from shipyard.experiments import FLUSH_POINTS
from shipyard.store import downstream
from tests.helpers import MakeProject, make_table

FEATURES = ["size", "rooms"]


def test_a_run_keeps_params_metric_histories_and_tags_and_its_environment(
    project: Project,
) -> None:
    with shipyard.start_run("churn", "baseline", project=project, params={"alpha": 0.5}) as run:
        shipyard.log_params({"depth": 3, "kind": "ridge"})
        for epoch in range(50):
            shipyard.log_metric("loss", 1 / (epoch + 1), step=epoch)
        run.log_metrics({"auc": 0.9, "f1": 0.7})
        shipyard.set_tag("team", "pricing")

    record = project.run_record(run.id)
    assert (record.kind, record.experiment, record.name, record.status) == (
        "tracked", "churn", "baseline", "succeeded",
    )  # fmt: skip
    assert record.environment["packages"]["scikit-learn"]
    assert record.environment["entry_point"]
    values = project.run_values(run.id)
    assert values.params == {"alpha": 0.5, "depth": 3, "kind": "ridge"}
    assert values.metrics == {"loss": 1 / 50, "auc": 0.9, "f1": 0.7}
    assert values.tags == {"team": "pricing"}
    history = project.metric_history(run.id, "loss")
    assert [(step, value) for step, value, _ in history] == [(e, 1 / (e + 1)) for e in range(50)]
    assert all(a <= b for (_, _, a), (_, _, b) in zip(history, history[1:], strict=False))


def test_many_points_are_written_in_batches_while_the_run_goes_on(project: Project) -> None:
    points = FLUSH_POINTS * 2 + 7
    with shipyard.start_run("speed", project=project) as run:
        for i in range(points):
            run.log_metric("x", i, step=i)
        run.flush()
        assert len(project.metric_history(run.id, "x")) == points
    assert project.metric_history(run.id, "x")[-1][:2] == (points - 1, points - 1)


def test_a_failing_block_fails_the_run_and_keeps_what_it_logged(project: Project) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        shipyard.start_run("churn", "broken", project=project) as run,
    ):
        shipyard.log_metric("before", 1.0)
        _ = 1 / 0

    record = project.run_record(run.id)
    assert record.status == "failed"
    assert record.error == "ZeroDivisionError: division by zero"
    assert project.run_values(run.id).metrics == {"before": 1.0}
    with pytest.raises(PipelineError, match=f"run {run.id} has ended"):
        run.log_metric("after", 1.0)
    with pytest.raises(PipelineError, match="inside `with shipyard.start_run"):
        shipyard.log_metric("after", 1.0)


def test_bad_values_are_refused_by_name(project: Project) -> None:
    with shipyard.start_run(project=project) as run:
        with pytest.raises(PipelineError, match="metric 'loss' is nan"):
            shipyard.log_metric("loss", float("nan"))
        with pytest.raises(PipelineError, match="does not exist"):
            run.log_artifact(project.root / "missing.png")
    assert project.run_values(run.id).metrics == {}
    assert project.run_record(run.id).experiment == "default"


def test_runs_started_inside_a_run_are_nested_in_its_experiment(project: Project) -> None:
    with shipyard.start_run("search", "study", project=project) as study:
        for trial in range(3):
            with shipyard.start_run(name=f"trial {trial}") as child:
                shipyard.log_metric("score", trial / 10)
                assert child.parent is study
        left_open = study.start_run("unfinished")
    assert project.run_record(left_open.id).status == "succeeded"  # ended with its parent

    children = project.runs(parent_id=study.id)
    assert [child.name for child in children] == ["unfinished", "trial 2", "trial 1", "trial 0"]
    assert {child.experiment for child in children} == {"search"}
    assert [r.id for r in project.runs(experiment="search")] == [study.id]
    assert project.latest_metrics([c.id for c in children])[children[1].id] == {"score": 0.2}


def test_data_artifacts_and_models_are_linked_in_the_lineage(project: Project) -> None:
    frame = make_table(300, seed=3)[[*FEATURES, "price"]]
    frame.to_csv(project.root / "houses.csv", index=False)
    (project.root / "notes.txt").write_text("what I tried")

    with shipyard.start_run("prices", project=project, data=[project.root / "houses.csv"]) as run:
        notes = shipyard.log_artifact(project.root / "notes.txt")
        model = Ridge(alpha=1.0).fit(frame[FEATURES], frame["price"])
        shipyard.log_metric("r2", model.score(frame[FEATURES], frame["price"]))
        version = shipyard.log_model(model, data=frame, target="price", register="prices")

    dataset = project.dataset_versions("houses")[0]
    assert (dataset.rows, dataset.columns, dataset.run_id) == (300, 3, run.id)
    assert project.artifacts.read_bytes(notes.digest) == b"what I tried"
    assert (version.model, version.version, version.run_id) == ("prices", 1, run.id)
    assert version.dataset_version_id == dataset.id
    assert version.metrics == {"r2": pytest.approx(model.score(frame[FEATURES], frame["price"]))}
    graph = downstream(project.store, project.store.get_artifact(dataset.examples_id))
    assert version.package.id in {artifact.id for artifact in graph.artifacts.values()}

    loaded = project.registry.load("prices:1")
    held_out = make_table(50, seed=4)[FEATURES]
    # To rounding: scikit-learn itself sums a frame's product in another order than an array's.
    assert loaded.predict(held_out).values == pytest.approx(model.predict(held_out), rel=1e-12)


def test_a_model_fitted_on_a_transform_s_features_is_packaged_with_it(project: Project) -> None:
    frame = make_table(400, seed=5, task="classification")
    features = frame.drop(columns="expensive")
    transform = learn_transform(features)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(transform.transform_frame(features), frame["expensive"])

    with shipyard.start_run("homes", project=project) as run:
        version = run.log_model(
            model, data=frame, target="expensive", transform=transform, register="homes"
        )

    loaded = project.registry.load(version.ref)
    new = make_table(60, seed=6, task="classification").drop(columns="expensive")
    answers = loaded.predict(new)
    expected = model.predict_proba(transform.transform_frame(new))
    assert np.array_equal(answers.probabilities, expected)
    assert answers.values == model.predict(transform.transform_frame(new)).tolist()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no target", "the target column 'cost' is not in data"),
        ("not fitted", "fit the Ridge before logging it"),
        ("text columns", "column 'area' is not numeric"),
        ("other columns", "fitted on columns \\['rooms', 'size'\\]"),
        ("not a frame", "data must be a pandas DataFrame"),
    ],
)
def test_a_model_that_cannot_be_packaged_is_refused_and_nothing_is_stored(
    project: Project, case: str, message: str
) -> None:
    frame = make_table(100, seed=7)
    numeric = frame[[*FEATURES, "price"]]
    model = Ridge().fit(numeric[FEATURES], numeric["price"])
    arguments: dict[str, object] = {"data": numeric, "target": "price"}
    if case == "no target":
        arguments["target"] = "cost"
    elif case == "not fitted":
        model = Ridge()
    elif case == "text columns":
        arguments["data"] = frame[[*FEATURES, "area", "price"]]
    elif case == "other columns":
        model = Ridge().fit(numeric[["rooms", "size"]], numeric["price"])
    elif case == "not a frame":
        arguments["data"] = numeric.to_numpy()

    with shipyard.start_run(project=project) as run, pytest.raises(DataError, match=message):
        run.log_model(model, register="prices", **arguments)  # type: ignore[arg-type]

    assert project.registry.models() == []
    assert project.run_steps(run.id) == []


def test_tracked_and_pipeline_runs_are_compared_side_by_side(project: Project) -> None:
    made = []
    for alpha in (0.1, 10.0):
        with shipyard.start_run("ridge", f"alpha {alpha}", project=project) as run:
            shipyard.log_param("alpha", alpha)
            shipyard.log_metric("rmse", alpha * 2)
        made.append(run.id)

    comparison = project.compare_runs(made)
    assert comparison.row("run").values == ("alpha 0.1", "alpha 10.0")
    assert comparison.row("param alpha").values == (0.1, 10.0)
    assert comparison.row("metric rmse").differs
    assert not comparison.row("experiment").differs


def test_a_batch_is_kept_whole_or_refused_whole(project: Project) -> None:
    with shipyard.start_run(project=project) as run:
        run.log_batch([("loss", 0.5, 0), ("loss", 0.25, 1)], params={"lr": 0.1}, tags={"t": 1})
        with pytest.raises(PipelineError, match="metric 'acc' is inf"):
            run.log_batch([("acc", 0.5, 0), ("acc", float("inf"), 1)], params={"lr": 9})

    assert [(step, value) for step, value, _ in project.metric_history(run.id, "loss")] == [
        (0, 0.5), (1, 0.25),
    ]  # fmt: skip
    assert project.metric_history(run.id, "acc") == []
    assert project.run_values(run.id).params == {"lr": 0.1}
    assert project.run_values(run.id).tags == {"t": 1}


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_boosting_libraries_fitted_on_frames_are_packaged_and_answer_alike(
    project: Project, library: str
) -> None:
    frame = make_table(300, seed=8, task="classification")[[*FEATURES, "expensive"]]
    labels = (frame["expensive"] == "yes").astype(int)
    data = frame.assign(expensive=labels)
    if library == "lightgbm":
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(n_estimators=15, verbose=-1)
    else:
        from xgboost import XGBClassifier

        model = XGBClassifier(n_estimators=15)
    model.fit(frame[FEATURES], labels)

    with shipyard.start_run(project=project) as run:
        version = run.log_model(model, data=data, target="expensive", register=library)

    new = make_table(40, seed=9)[FEATURES]
    answers = project.registry.load(version.ref).predict(new)
    assert np.array_equal(answers.probabilities, model.predict_proba(new))


def test_a_run_records_the_commit_of_the_project_s_checkout(
    make_project: MakeProject, tmp_path: Path
) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    (folder / "train.py").write_text("alpha = 1\n")
    subprocess.run([*git, "add", "."], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=folder, check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()
    project = make_project(folder=folder)

    with shipyard.start_run(project=project) as clean:
        pass
    (folder / "train.py").write_text("alpha = 2\n")
    with shipyard.start_run(project=project) as dirty:
        pass

    assert (clean.record.code_version, clean.record.code_dirty) == (commit, False)
    assert (dirty.record.code_version, dirty.record.code_dirty) == (commit, True)


def test_a_logged_model_is_monitored_against_the_data_it_learned_from(project: Project) -> None:
    frame = make_table(300, seed=12)[[*FEATURES, "price"]]
    model = Ridge().fit(frame[FEATURES], frame["price"])
    with shipyard.start_run(project=project) as run:
        run.log_model(model, data=frame, target="price", register="prices")

    reference = project.monitor.report_data("prices").reference
    assert sorted(reference.columns) == sorted(FEATURES)
    assert reference.num_rows == 300
    assert reference["size"].numeric.max == pytest.approx(frame["size"].max())
