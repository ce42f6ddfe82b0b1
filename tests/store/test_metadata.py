"""The metadata store's step claims, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from shipyard.store import MetadataStore, RunRecord, upstream
from shipyard.store.records import ExecutionStatus, FinishedRun, FinishedStep, RunStatus
from shipyard.store.tables import RunRow, StepClaimRow
from tests.store.helpers import an_artifact

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


def test_finished_runs_are_recorded_whole_in_one_call(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    data = an_artifact(store, "d")
    model = an_artifact(store, "m")
    start = datetime(2026, 5, 1, tzinfo=UTC)

    def finished(index: int, status: RunStatus) -> FinishedRun:
        ok = status == "succeeded"
        fit = FinishedStep(
            step="fit", component="Trainer", status="succeeded" if ok else "failed",
            started_at=start, finished_at=start + timedelta(seconds=index), fingerprint="f" * 64,
            params={"alpha": index}, inputs={"examples": data.id},
            outputs={"model": model.id} if ok else {},
            error=None if ok else "boom",
            logged_params={"alpha": index}, logged_metrics=(("rmse", 10.0 + index, None),),
        )  # fmt: skip
        ingest = FinishedStep(
            step="ingest", component="ExampleGen", status="cached", started_at=start,
            finished_at=start, outputs={"examples": data.id},
        )  # fmt: skip
        return FinishedRun(
            pipeline="standard", status=status, started_at=start,
            finished_at=start + timedelta(seconds=index), host="elsewhere", steps=(ingest, fit),
            params={"run": index}, error=None if ok else "fit failed",
        )  # fmt: skip

    try:
        ids = store.record_runs([finished(1, "succeeded"), finished(2, "failed")])

        assert len(ids) == 2
        assert [run.id for run in store.list_runs(pipeline="standard")] == ids[::-1]
        first, second = store.get_run(ids[0]), store.get_run(ids[1])
        assert (first.status, first.params, first.duration) == ("succeeded", {"run": 1}, 1.0)
        assert (second.status, second.error) == ("failed", "fit failed")
        ingest, fit = store.run_executions(ids[0])
        assert (ingest.step, ingest.status, ingest.outputs["examples"].id) == (
            "ingest", "cached", data.id,
        )  # fmt: skip
        assert (fit.inputs["examples"].id, fit.outputs["model"].id) == (data.id, model.id)
        assert store.run_executions(ids[1])[1].error == "boom"
        assert store.tracking.params(ids[0]) == {"alpha": 1}
        assert store.tracking.latest_metrics(ids[1]) == {"rmse": 12.0}
        # lineage: the imported step is one of the model artifact's producers
        producers = store.artifact_events([model.id], direction="output")
        assert (fit.id, model.id, "model") in producers
        assert store.record_runs([]) == []
    finally:
        store.close()


def test_lineage_follows_the_execution_that_computed_an_artifact(
    db_url: str, tmp_path: Path
) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    source, made = an_artifact(store, "s"), an_artifact(store, "m")
    ((computed, _, _),) = store.artifact_events([made.id], direction="output")
    start = datetime(2026, 5, 1, tzinfo=UTC)

    def run(status: ExecutionStatus) -> int:
        step = FinishedStep(
            step="make", component="Make", status=status, started_at=start, finished_at=start,
            inputs={"source": source.id}, outputs={"out": made.id},
        )  # fmt: skip
        finished = FinishedRun(
            pipeline="p", status="succeeded", started_at=start, finished_at=start,
            host="h", steps=(step,),
        )  # fmt: skip
        return store.record_runs([finished])[0]

    try:
        runs = [run("cached"), run("succeeded"), run("cached")]  # replays, a recomputation
        later = [store.run_executions(run_id)[0].id for run_id in runs]

        producers = store.first_producers([made.id, source.id])

        assert producers[made.id] == computed
        assert computed not in later
        assert producers[source.id] not in (*later, computed)
        graph = upstream(store, made)
        assert set(graph.executions) == {computed}
        assert graph.edges == {(f"execution:{computed}", made.ref)}
        # from a run that replayed it, the walk goes up to the source's maker
        graph = upstream(store, runs[0])
        assert set(graph.executions) == {later[0], producers[source.id]}
        assert (f"execution:{producers[source.id]}", source.ref) in graph.edges
    finally:
        store.close()
