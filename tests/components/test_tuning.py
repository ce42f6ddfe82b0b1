"""The Tuner in the standard pipeline: a study of model.params by cross-validation.

The tuned project and the untuned one learn from scikit-learn's bundled breast cancer
table, split alike; the tuned model must do better on the eval split, which the study
never sees.  The searched space is a wide one a person might write, with poor regions
(tiny learning rates underfit in 100 iterations), so that the choice of the study matters.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from shipyard import Project
from shipyard.cli.app import app
from shipyard.components import read_split
from shipyard.components.payloads import TuningPayload
from shipyard.config import CONFIG_FILE, load_config, parse_config
from shipyard.errors import ConfigError
from shipyard.modeling.tuning import STUDY_FILE, TuningResult
from shipyard.pipeline import Pipeline, RunResult
from tests.helpers import SHIPYARD, MakeStandardProject, make_table, warm_pool

WIDE_SPACE = {
    "learning_rate": {"log_uniform": [0.002, 0.5]},
    "max_depth": {"int": [1, 10]},
    "min_samples_leaf": {"int": [5, 100]},
}


def cancer_project(folder: Path, *, tuner: dict[str, Any] | None, workers: int = 2) -> Project:
    """A project on the breast cancer table (569 rows, binary 'target')."""
    folder.mkdir(parents=True)
    load_breast_cancer(as_frame=True).frame.to_csv(folder / "cancer.csv", index=False)
    Project.init(folder, data=folder / "cancer.csv", target="target").close()
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["pipeline"]["workers"] = workers
    settings["infra"]["requests"] = 20
    settings["infra"]["max_p99_ms"] = 2000
    if tuner is not None:
        settings["tuner"] = tuner
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    return Project.open(folder)


def tuning_of(project: Project, result: RunResult) -> TuningResult:
    digest = result.output("Tuner", "tuning").digest
    return TuningPayload.from_bytes(project.artifacts.read_bytes(digest)).result


def study_journal(project: Project) -> Path:
    (journal,) = (project.root / ".shipyard").rglob(STUDY_FILE)
    return journal


def set_tuner(project: Project, tuner: dict[str, Any]) -> Project:
    """``project`` with a tuner in its settings (the same object: whoever opened it
    closes it)."""
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["tuner"] = tuner
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.config = load_config(project.root)
    return project


# -- a tuned pipeline against the untuned default ---------------------------------------


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The untuned and the tuned project, each run once; the tuned one run twice."""
    base = tmp_path_factory.mktemp("tuning")
    default = cancer_project(base / "default", tuner=None)
    untuned = default.run(default.standard_pipeline(), executor=warm_pool())
    untuned.raise_for_failure()
    tuned = cancer_project(
        base / "tuned", tuner={"trials": 12, "folds": 3, "seed": 1, "space": WIDE_SPACE}
    )
    first = tuned.run(tuned.standard_pipeline(), executor=warm_pool())
    first.raise_for_failure()
    journal = study_journal(tuned).read_bytes()
    second = tuned.run(tuned.standard_pipeline(), executor=warm_pool())
    second.raise_for_failure()
    with pytest.MonkeyPatch.context() as patch:  # `shipyard run`: cached, and it says so
        patch.chdir(tuned.root)
        shown = CliRunner().invoke(app, ["run"])
    assert shown.exit_code == 0, shown.output
    yield {
        "default": default,
        "untuned": untuned,
        "tuned": tuned,
        "first": first,
        "second": second,
        "journal": journal,
        "shown": " ".join(shown.output.split()),
    }
    default.close()
    tuned.close()


@pytest.mark.slow
def test_the_tuned_model_beats_the_untuned_default_on_the_eval_split(
    compared: dict[str, Any],
) -> None:
    default, tuned = compared["default"], compared["tuned"]
    untuned_version = default.registry.resolve("cancer@production")
    tuned_version = tuned.registry.resolve("cancer@production")
    # The same rows in both evaluations: the same source, split and seed.
    assert untuned_version.metrics["log_loss"] > 0
    assert tuned_version.metrics["log_loss"] < untuned_version.metrics["log_loss"]
    assert [step for step in compared["untuned"].steps] == [
        "ExampleGen",
        "StatisticsGen",
        "SchemaGen",
        "ExampleValidator",
        "Transform",
        "Trainer",
        "Evaluator",
        "InfraValidator",
        "Pusher",
    ]


@pytest.mark.slow
def test_the_study_records_every_trial_and_the_trainer_takes_the_best(
    compared: dict[str, Any],
) -> None:
    tuned, first = compared["tuned"], compared["first"]
    result = tuning_of(tuned, first)
    assert result.metric == "log_loss" and result.direction == "minimize"
    assert len(result.trials) == 12
    assert sorted(trial.number for trial in result.trials) == list(range(12))
    complete = [trial for trial in result.trials if trial.state == "complete"]
    assert complete and {trial.state for trial in result.trials} <= {"complete", "pruned"}
    best = min(complete, key=lambda trial: trial.score or 0.0)
    assert (result.best_trial, result.best_score) == (best.number, best.score)
    assert result.best_params == best.params
    # The space has poor regions: what the study picked mattered.
    assert max(trial.score or 0.0 for trial in complete) > 1.2 * (result.best_score or 0.0)
    for trial in result.trials:
        assert set(trial.params) == set(WIDE_SPACE)
        assert 0.002 <= trial.params["learning_rate"] <= 0.5
        assert 1 <= trial.params["max_depth"] <= 10
        assert trial.seconds is not None and trial.seconds >= 0
        assert len(trial.fold_scores) == (
            3 if trial.state == "complete" else len(trial.fold_scores)
        )
        assert 1 <= len(trial.fold_scores) <= 3
    # Pipeline workers (2) optimized the study together, each running its share.
    assert {trial.worker for trial in result.trials} == {0, 1}
    # The Trainer fitted the best parameters and says so.
    params = tuned.store.tracking.params(first.run.id)
    for key, value in result.best_params.items():
        assert params[f"model.{key}"] == value
        assert params[f"tuned.{key}"] == value
    package = tuned.registry.load("cancer@production").package
    assert {key: package.manifest.params[key] for key in WIDE_SPACE} == result.best_params


@pytest.mark.slow
def test_trials_are_runs_nested_in_the_pipeline_run(compared: dict[str, Any]) -> None:
    tuned, first = compared["tuned"], compared["first"]
    result = tuning_of(tuned, first)
    trials = tuned.store.list_runs(parent_id=first.run.id, limit=100)
    assert sorted(run.name or "" for run in trials) == sorted(
        f"trial {trial.number}" for trial in result.trials
    )
    assert {run.kind for run in trials} == {"trial"}
    assert {run.status for run in trials} == {"succeeded"}
    assert all(run.experiment == first.run.experiment for run in trials)
    # Nested runs stay out of the plain list of runs.
    assert first.run.id in [run.id for run in tuned.store.list_runs(limit=10)]
    assert not {run.id for run in trials} & {run.id for run in tuned.store.list_runs(limit=100)}
    by_name = {run.name: run for run in trials}
    for trial in result.trials:
        run = by_name[f"trial {trial.number}"]
        params = tuned.store.tracking.params(run.id)
        assert params == {**trial.params, "state": trial.state}
        metrics = tuned.store.tracking.latest_metrics(run.id)
        if trial.state == "complete":
            assert metrics["cv_log_loss"] == pytest.approx(trial.score)
        else:
            assert "cv_log_loss" not in metrics


@pytest.mark.slow
def test_an_unchanged_rerun_takes_the_cached_study(compared: dict[str, Any]) -> None:
    tuned, first, second = compared["tuned"], compared["first"], compared["second"]
    assert second.steps["Tuner"].status == "cached"
    assert second.output("Tuner", "tuning") == first.output("Tuner", "tuning")
    assert study_journal(tuned).read_bytes() == compared["journal"]  # no new trial
    result = tuning_of(tuned, first)
    states = [trial.state for trial in result.trials]
    assert (
        f"tuning: 12 trials ({states.count('pruned')} pruned, 0 failed) — best "
        f"cross-validated log_loss {result.best_score:.5g} (trial {result.best_trial}): "
        f"learning_rate={result.best_params['learning_rate']:.4g}, "
        f"max_depth={result.best_params['max_depth']}"
    ) in compared["shown"]
    assert tuned.store.list_runs(parent_id=second.run.id, limit=100) == []


# -- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tuner", "message"),
    [
        (
            "{space: {learning_rate: {log_unifrom: [0.01, 0.3]}}}",
            "field 'tuner.space.learning_rate': Value error, unknown distribution "
            "'log_unifrom' (did you mean 'log_uniform'?); use one of uniform, log_uniform, "
            "int, log_int, choice",
        ),
        (
            "{space: {max_depth: {int: [12, 3]}}}",
            "field 'tuner.space.max_depth': Value error, int needs low < high, got [12, 3]",
        ),
        (
            "{space: {learning_rate: {log_uniform: [0, 0.3]}}}",
            "log_uniform needs low > 0, got 0.0",
        ),
        (
            "{space: {loss: {uniform: [0, 1], choice: [a, b]}}}",
            "field 'tuner.space.loss': Value error, give exactly one distribution",
        ),
        ("{space: {loss: {choice: []}}}", "field 'tuner.space.loss.choice'"),
        ("{space: {max_depth: 7}}", "give a distribution as a mapping"),
        ("{space: {}}", "field 'tuner.space'"),
        ("{trials: 0, space: {max_depth: {int: [3, 12]}}}", "field 'tuner.trials'"),
        ("{folds: 1, space: {max_depth: {int: [3, 12]}}}", "field 'tuner.folds'"),
        (
            "{timeout: soon, space: {max_depth: {int: [3, 12]}}}",
            "'soon' is not a duration (90s, 10m, 1h, or seconds)",
        ),
        (
            "{metric: accuracy, space: {max_depth: {int: [3, 12]}}}",
            "tuner.metric 'accuracy' is not a regression metric; use one of rmse, mae, mape, r2",
        ),
        ("{spaces: {max_depth: {int: [3, 12]}}}", "field 'tuner.spaces'"),
    ],
)
def test_bad_tuner_settings_are_refused_naming_the_field(tuner: str, message: str) -> None:
    text = f"name: demo\ndata: {{source: a.csv, target: y, task: regression}}\ntuner: {tuner}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert message in str(caught.value)


def test_good_tuner_settings_read_as_written() -> None:
    config = parse_config(
        "name: demo\ntuner: {trials: 30, timeout: 10m, folds: 5, space: {"
        "learning_rate: {log_uniform: [0.01, 0.3]}, max_depth: {int: [3, 12]}, "
        "l2_regularization: {uniform: [0, 1]}, loss: {choice: [squared_error, absolute_error]}}}"
    )
    tuner = config.tuner
    assert tuner is not None
    assert (tuner.trials, tuner.timeout, tuner.folds, tuner.metric) == (30, 600.0, 5, None)
    assert tuner.space["max_depth"].distribution == "int"
    assert tuner.space["max_depth"].bounds == (3, 12)
    assert tuner.space["loss"].choice == ["squared_error", "absolute_error"]
    assert parse_config(config.to_yaml()).tuner == tuner  # written back as it was read


def test_a_parameter_the_estimator_does_not_take_is_refused_before_running(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project = set_tuner(project, {"space": {"max_deph": {"int": [2, 6]}}})
    with pytest.raises(ConfigError) as caught:
        project.standard_pipeline()
    message = str(caught.value)
    assert message.startswith(
        "tuner.space.max_deph: HistGradientBoostingRegressor takes no parameter 'max_deph' "
        "(did you mean 'max_depth'?)"
    )
    assert project.store.list_runs() == []
    project.close()


def test_without_a_tuner_section_the_pipeline_has_no_tuner(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    names = [step.name for step in project.standard_pipeline().order()]
    assert "Tuner" not in names and names[5] == "Trainer"
    project = set_tuner(project, {"trials": 2, "space": {"max_depth": {"int": [2, 6]}}})
    names = [step.name for step in project.standard_pipeline().order()]
    assert names[5:7] == ["Tuner", "Trainer"]
    project.close()


# -- small studies on the synthetic table ----------------------------------------------


@pytest.mark.slow
def test_a_classification_study_on_one_worker_records_its_trials(
    make_standard_project: MakeStandardProject, db_url: str
) -> None:
    project = make_standard_project(task="classification", rows=300, db_url=db_url)
    space = {
        "learning_rate": {"log_uniform": [0.02, 0.3]},
        "l2_regularization": {"uniform": [0, 1]},
    }
    project = set_tuner(project, {"trials": 4, "folds": 2, "metric": "accuracy", "space": space})
    result = project.run(project.standard_pipeline(), workers=1)
    result.raise_for_failure()
    tuning = tuning_of(project, result)
    assert (tuning.metric, tuning.direction) == ("accuracy", "maximize")
    assert len(tuning.trials) == 4 and {t.worker for t in tuning.trials} == {0}
    best = max((t for t in tuning.trials if t.score is not None), key=lambda t: t.score or 0.0)
    assert tuning.best_score == best.score and 0.5 < (best.score or 0.0) <= 1.0
    trials = project.store.list_runs(parent_id=result.run.id, limit=10)
    assert len(trials) == 4 and {run.kind for run in trials} == {"trial"}
    metrics = project.store.tracking.metrics(trials[0].id)
    assert {metric.key for metric in metrics} >= {"fold_accuracy"}
    assert {metric.step for metric in metrics if metric.key == "fold_accuracy"} <= {0, 1}
    # model.params set elsewhere (max_iter: 30) stay; the tuned ones join them.
    params = project.store.tracking.params(result.run.id)
    assert params["model.max_iter"] == 30
    assert params["model.learning_rate"] == tuning.best_params["learning_rate"]
    project.close()


@pytest.mark.slow
def test_the_timeout_stops_the_study(make_standard_project: MakeStandardProject) -> None:
    project = make_standard_project(rows=300)
    space = {"learning_rate": {"log_uniform": [0.02, 0.3]}}
    project = set_tuner(project, {"trials": 5000, "timeout": "2s", "folds": 2, "space": space})
    result = project.run(project.standard_pipeline(), workers=1)
    result.raise_for_failure()
    tuning = tuning_of(project, result)
    # A busy machine may finish a single trial in the 2 s (one took 4.7 s in a loaded run).
    assert tuning.timed_out and 1 <= len(tuning.trials) < 5000
    # No trial starts after the timeout (the study starts just before its first trial).
    starts = [datetime.fromisoformat(t.started or "") for t in tuning.trials]
    assert (max(starts) - min(starts)).total_seconds() < 2.0
    project.close()


# -- a study killed half-way ----------------------------------------------------------


def finished_trials(journal: Path) -> dict[int, dict[str, Any]]:
    """The trials of the study that have ended, by number (read as Optuna reads them)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    storage = JournalStorage(
        JournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal)))
    )
    study = optuna.load_study(study_name="tuner", storage=storage)
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return {t.number: t.params for t in study.get_trials(deepcopy=False) if t.state in done}


def processes_in(folder: Path) -> list[int]:
    """Processes working in ``folder`` (Linux): a pipeline's runner, workers and trials."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(entry / "cwd")) == folder:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_a_study_killed_half_way_resumes_and_ends_with_its_trials(tmp_path: Path) -> None:
    trials = 14
    project = cancer_project(
        tmp_path / "killed",
        tuner={"trials": trials, "folds": 3, "space": WIDE_SPACE},
        workers=2,
    )
    project.close()
    runner = subprocess.Popen(
        [SHIPYARD, "run"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
        start_new_session=True,
    )
    before: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.05)
            journals = list((project.root / ".shipyard").rglob(STUDY_FILE))
            if journals:
                try:
                    before = finished_trials(journals[0])
                except KeyError:  # the journal is there, the study not yet
                    continue
                if len(before) >= 3:
                    break
    finally:
        os.kill(runner.pid, signal.SIGKILL)  # the runner; its workers die with it
        runner.wait()
    assert 3 <= len(before) < trials, "the study was not killed half-way"
    # The workers and the trial processes die with the runner, even those still starting.
    gone_by = time.monotonic() + 30
    while processes_in(project.root) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert processes_in(project.root) == []

    with Project.open(project.root) as resumed:
        result = resumed.run(resumed.standard_pipeline(), executor=warm_pool())
        result.raise_for_failure()
        assert result.steps["Tuner"].status == "succeeded"
        tuning = tuning_of(resumed, result)
        assert len(tuning.trials) == trials
        kept = {trial.number: trial.params for trial in tuning.trials}
        for number, params in before.items():
            assert kept[number] == params  # finished before the kill: kept, not re-run
        assert len(finished_trials(study_journal(resumed))) == trials
        crashed = resumed.store.list_runs(status="crashed")
        assert len(crashed) == 1
        assert len(resumed.store.list_runs(parent_id=result.run.id, limit=100)) == trials


def tuned_up_to_the_tuner(folder: Path, frame: pd.DataFrame) -> tuple[Project, RunResult]:
    """A project on ``frame`` split by its ``id`` column, run as far as the Tuner."""
    folder.mkdir()
    frame.to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["data"]["split"]["key"] = "id"
    settings["data"]["drop"] = ["id"]
    settings["model"]["params"] = {"max_iter": 30}
    space = {"learning_rate": {"log_uniform": [0.02, 0.3]}, "max_depth": {"int": [2, 6]}}
    settings["tuner"] = {"trials": 3, "folds": 2, "prune": False, "space": space}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project = Project.open(folder)
    steps = project.standard_pipeline().order()
    upto = [step.name for step in steps].index("Tuner") + 1
    result = project.run(Pipeline("up-to-the-tuner", steps[:upto]), workers=1)
    result.raise_for_failure()
    return project, result


def test_the_study_never_sees_the_eval_split(tmp_path: Path) -> None:
    frame = make_table(300, seed=3)
    frame.insert(0, "id", range(len(frame)))
    first, ran = tuned_up_to_the_tuner(tmp_path / "first", frame)
    examples = first.artifacts.materialize(ran.output("ExampleGen", "examples").digest, "dir")
    held_out = set(read_split(examples, "eval")["id"])
    assert 0 < len(held_out) < len(frame)
    # The same table with nonsense targets on the eval split only.
    scrambled = frame.copy()
    rows = scrambled["id"].isin(held_out)
    scrambled.loc[rows, "price"] = -scrambled.loc[rows, "price"] * 100
    second, ran_again = tuned_up_to_the_tuner(tmp_path / "second", scrambled)
    assert ran_again.steps["Tuner"].status == "succeeded"  # other examples: not cached
    found, found_again = tuning_of(first, ran), tuning_of(second, ran_again)
    assert [(t.params, t.fold_scores) for t in found.trials] == [
        (t.params, t.fold_scores) for t in found_again.trials
    ]
    first.close()
    second.close()


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["xgboost", "lightgbm"])
def test_boosting_libraries_are_tuned_by_their_short_names(
    make_standard_project: MakeStandardProject, estimator: str
) -> None:
    pytest.importorskip(estimator)
    project = make_standard_project(task="classification", rows=300)
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["model"] = {"estimator": estimator, "params": {"n_estimators": 20}}
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    space = {"learning_rate": {"log_uniform": [0.05, 0.3]}, "max_depth": {"int": [2, 5]}}
    project = set_tuner(project, {"trials": 3, "folds": 2, "space": space})
    result = project.run(project.standard_pipeline(), workers=1)
    result.raise_for_failure()
    tuning = tuning_of(project, result)
    assert {trial.state for trial in tuning.trials} == {"complete"}
    assert 0 < (tuning.best_score or 0.0) < 0.7  # log loss of classes "yes"/"no", learnt
    params = project.store.tracking.params(result.run.id)
    assert params["model.max_depth"] == tuning.best_params["max_depth"]
    project.close()


@pytest.mark.slow
def test_a_study_runs_on_the_dask_executor(make_standard_project: MakeStandardProject) -> None:
    pytest.importorskip("distributed")
    project = make_standard_project(rows=300)
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["pipeline"]["executor"] = "dask"
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    space = {"learning_rate": {"log_uniform": [0.05, 0.3]}}
    project = set_tuner(project, {"trials": 3, "folds": 2, "space": space})
    result = project.run(project.standard_pipeline())
    result.raise_for_failure()
    assert len(tuning_of(project, result).trials) == 3
    assert len(project.store.list_runs(parent_id=result.run.id)) == 3
    project.close()
