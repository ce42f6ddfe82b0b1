"""The metadata store's step claims, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select, update

from shipyard.store import MetadataStore, RunRecord
from shipyard.store.tables import RunRow, StepClaimRow

KEY = "f" * 64


def start_run(store: MetadataStore) -> RunRecord:
    return store.start_run("p", params={}, code_version=None, code_dirty=None, environment={})


def test_a_claim_is_exclusive_while_its_run_lives(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="claims")
    first, second = start_run(store), start_run(store)

    assert store.claim_step(KEY, first.id)
    assert not store.claim_step(KEY, second.id)
    assert store.claim_step(KEY, first.id)  # holding it already
    assert store.claim_step("e" * 64, second.id)  # another step is free
    store.release_steps(first.id, KEY)
    assert store.claim_step(KEY, second.id)
    store.close()


def test_the_claim_of_a_finished_run_is_taken_over(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="claims")
    failed, waiting = start_run(store), start_run(store)
    assert store.claim_step(KEY, failed.id)

    store.finish_run(failed.id, status="failed", error="a step failed")

    assert store.claim_step(KEY, waiting.id)
    assert not store.claim_step(KEY, failed.id)
    store.close()


def test_the_claim_of_a_dead_runner_is_taken_over(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="claims")
    dead, alive = start_run(store), start_run(store)
    assert store.claim_step(KEY, dead.id)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.database.writing("faking a dead runner") as session:
        session.execute(update(RunRow).where(RunRow.id == dead.id).values(pid=gone.pid))

    assert store.claim_step(KEY, alive.id)
    store.close()


def test_ending_runs_releases_their_claims(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="claims")
    run = start_run(store)
    assert store.claim_step(KEY, run.id)
    assert store.claim_step("e" * 64, run.id)

    store.abort_runs([run.id], status="crashed", error="the runner process died")

    with store.database.reading("reading claims") as session:
        assert list(session.scalars(select(StepClaimRow))) == []
    store.close()


def test_stores_opened_at_once_on_a_new_database_share_one_project(
    db_url: str, tmp_path: Path
) -> None:
    barrier = threading.Barrier(6)

    def open_store() -> int:
        barrier.wait()
        store = MetadataStore(db_url, root=tmp_path, project="together")
        try:
            return store.project_id
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(lambda _: open_store(), range(6)))
    assert len(set(ids)) == 1


def test_runs_are_listed_newest_first_by_pipeline_and_status_a_page_at_a_time(
    db_url: str, tmp_path: Path
) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="listing")
    other = MetadataStore(db_url, root=tmp_path, project="elsewhere")
    start_run(other)
    made = []
    for index in range(7):
        run = store.start_run(
            "train" if index % 2 else "score",
            params={},
            code_version=None,
            code_dirty=None,
            environment={},
        )
        store.finish_run(run.id, status="failed" if index % 3 == 0 else "succeeded")
        made.append(run.id)
    newest_first = made[::-1]

    assert [run.id for run in store.list_runs()] == newest_first
    assert [run.id for run in store.list_runs(limit=3)] == newest_first[:3]
    assert [run.id for run in store.list_runs(limit=3, offset=3)] == newest_first[3:6]
    assert [run.id for run in store.list_runs(limit=3, offset=6)] == newest_first[6:]
    assert store.list_runs(offset=7) == []
    failed = store.list_runs(status="failed")
    assert [run.id for run in failed] == [made[6], made[3], made[0]]
    assert {run.status for run in failed} == {"failed"}
    trained_and_failed = store.list_runs(pipeline="train", status="failed")
    assert [run.id for run in trained_and_failed] == [made[3]]
    assert [run.id for run in store.list_runs(pipeline="score", limit=2, offset=1)] == [
        made[4],
        made[2],
    ]
    assert store.list_runs(pipeline="missing") == []
    store.close()
    other.close()
