"""Records the store repositories' tests build on: runs and artifacts of a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipyard.store import ArtifactRecord, MetadataStore, RunRecord, StoredOutput
from shipyard.store.records import NewWindow


def a_run(store: MetadataStore) -> RunRecord:
    return store.start_run("p", params={}, code_version=None, code_dirty=None, environment={})


def an_artifact(store: MetadataStore, digest: str) -> ArtifactRecord:
    """An artifact with ``digest`` (one character, repeated) made by a step of a new run."""
    run = a_run(store)
    execution = store.start_execution(
        run.id, step="make", component="Make", fingerprint=None, params={}, inputs={}
    )
    output = StoredOutput(type_name="Dataset", digest=digest * 64, kind="file", size=1, uri="/x")
    return store.finish_execution(
        execution, status="succeeded", attempts=1, outputs={"out": output}
    )["out"]


START = datetime(2026, 5, 1, 10, tzinfo=UTC)


def a_window(version: int = 1, *, hour: int = 0, count: int = 100) -> NewWindow:
    """A computed window of model 'm', ``hour`` hours after ``START``."""
    start = START + timedelta(hours=hour)
    return NewWindow(
        model="m", version=version, spec="1h", start=start, end=start + timedelta(hours=1),
        count=count, statistics="ab" * 32, result={"drifted": [], "hour": hour}, labelled=0,
    )  # fmt: skip
