"""Logged parameters and metrics of runs in the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.store import MetadataStore
from shipyard.store.records import MetricRecord
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
