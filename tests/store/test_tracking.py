"""Logged parameters and metrics of runs in the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shipyard.errors import RecordNotFound
from shipyard.store import MetadataStore
from shipyard.store.records import FinishedRun, MetricRecord
from shipyard.store.tracking import TrackingRepository
from tests.store.helpers import a_run


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    yield store
    store.close()


def a_step(store: MetadataStore, run_id: int) -> int:
    return store.start_execution(
        run_id, step="fit", component="Fit", fingerprint=None, params={}, inputs={}
    )


def test_params_keep_their_last_value_and_metrics_every_value(store: MetadataStore) -> None:
    tracking = store.tracking
    run = a_run(store).id
    step = a_step(store, run)

    tracking.record(run, execution_id=step, params={"alpha": 0.5, "kind": "ridge"}, metrics=[])
    tracking.record(
        run,
        execution_id=step,
        params={"alpha": 0.8},
        metrics=[("loss", 3.0, 0), ("loss", 2.0, 1), ("r2", 0.7, None)],
    )

    assert isinstance(tracking, TrackingRepository)
    assert tracking.params(run) == {"alpha": 0.8, "kind": "ridge"}
    assert tracking.metrics(run) == [
        MetricRecord("loss", 3.0, 0, step),
        MetricRecord("loss", 2.0, 1, step),
        MetricRecord("r2", 0.7, None, step),
    ]
    assert tracking.latest_metrics(run) == {"loss": 2.0, "r2": 0.7}


def test_runs_keep_their_own_values(store: MetadataStore) -> None:
    first, second = a_run(store).id, a_run(store).id
    store.tracking.record(first, execution_id=None, params={"a": 1}, metrics=[("m", 1.0, None)])

    assert store.tracking.params(second) == {}
    assert store.tracking.metrics(second) == []
    assert store.tracking.latest_metrics(first) == {"m": 1.0}


def test_a_cached_execution_carries_what_it_logged_into_the_new_run(
    store: MetadataStore,
) -> None:
    tracking = store.tracking
    first = a_run(store).id
    computed = a_step(store, first)
    tracking.record(first, execution_id=computed, params={"alpha": 0.5}, metrics=[("loss", 1.5, 2)])
    later = a_run(store).id
    replay = a_step(store, later)

    tracking.copy(from_execution=computed, to_run=later, to_execution=replay)

    assert tracking.params(later) == {"alpha": 0.5}
    assert tracking.metrics(later) == [MetricRecord("loss", 1.5, 2, replay)]
    assert tracking.of_execution(replay) == ({"alpha": 0.5}, [MetricRecord("loss", 1.5, 2, replay)])
    assert tracking.of_execution(computed)[0] == {"alpha": 0.5}


def test_recording_nothing_writes_nothing(store: MetadataStore) -> None:
    run = a_run(store).id
    store.tracking.record(run, execution_id=None, params={}, metrics=[])
    assert store.tracking.params(run) == {}
    assert store.tracking.metrics(run) == []


def test_the_latest_values_of_chosen_metrics_of_many_runs_at_once(store: MetadataStore) -> None:
    tracking = store.tracking
    first, second, silent = (a_run(store).id for _ in range(3))
    tracking.record(
        first,
        execution_id=None,
        params={},
        metrics=[("rmse", 3.0, 0), ("rmse", 2.5, 1), ("r2", 0.7, None), ("rows", 10, None)],
    )
    tracking.record(second, execution_id=None, params={}, metrics=[("r2", 0.9, None)])

    assert tracking.latest_of([first, second, silent], ["rmse", "r2"]) == {
        first: {"rmse": 2.5, "r2": 0.7},
        second: {"r2": 0.9},
    }
    assert tracking.latest_of([first], []) == {} and tracking.latest_of([], ["r2"]) == {}


def test_a_pipeline_run_belongs_to_its_pipeline_s_experiment(store: MetadataStore) -> None:
    run = a_run(store)

    assert (run.kind, run.experiment, run.name, run.parent_id) == ("pipeline", "p", None, None)
    assert run.label == "p"


def test_nested_runs_take_their_parent_s_experiment_and_are_listed_apart(
    store: MetadataStore,
) -> None:
    parent = store.start_run(
        "", params={}, code_version=None, code_dirty=None, environment={},
        kind="tracked", experiment="churn", name="baseline",
    )  # fmt: skip
    child = store.start_run(
        "", params={}, code_version=None, code_dirty=None, environment={},
        kind="tracked", name="fold 1", parent_id=parent.id,
    )  # fmt: skip
    other = a_run(store)

    assert (child.experiment, child.parent_id, child.label) == ("churn", parent.id, "fold 1")
    assert [r.id for r in store.list_runs()] == [other.id, parent.id]
    assert [r.id for r in store.list_runs(nested=True)] == [other.id, child.id, parent.id]
    assert [r.id for r in store.list_runs(experiment="churn")] == [parent.id]
    assert [r.id for r in store.list_runs(parent_id=parent.id)] == [child.id]
    with pytest.raises(RecordNotFound, match="run 999 does not exist"):
        store.start_run(
            "", params={}, code_version=None, code_dirty=None, environment={}, parent_id=999
        )


def test_finished_trials_are_recorded_under_their_run_with_what_they_logged(
    store: MetadataStore,
) -> None:
    parent = a_run(store)
    now = datetime.now(UTC)
    trials = [
        FinishedRun(
            pipeline="p",
            status="succeeded",
            started_at=now,
            finished_at=now,
            host="h",
            kind="trial",
            name=f"trial {n}",
            parent_id=parent.id,
            experiment="p",
            logged_params={"depth": n},
            logged_metrics=(("score", n / 10, None),),
        )  # fmt: skip
        for n in range(3)
    ]

    ids = store.record_runs(trials)

    assert [r.id for r in store.list_runs(parent_id=parent.id)] == ids[::-1]
    assert store.get_run(ids[2]).kind == "trial"
    assert store.tracking.params(ids[2]) == {"depth": 2}
    assert store.tracking.metrics(ids[1]) == [MetricRecord("score", 0.1, None, None)]
