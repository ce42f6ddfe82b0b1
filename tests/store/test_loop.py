"""The loop's repository on SQLite and PostgreSQL: retrains, their steps, deliveries."""

from __future__ import annotations

import pytest

from shipyard import Project
from shipyard.errors import RecordNotFound


def test_a_retrain_moves_through_its_steps_and_keeps_them(project: Project) -> None:
    loop = project.store.loop
    assert loop.current("m") is None and loop.runs() == []
    started = loop.start("m", trigger="alert 'drift'", production_version=1, details={"alert": 3})
    assert (started.status, started.production_version, started.finished) == (
        "triggered",
        1,
        False,
    )
    trained = loop.step(
        started.id, "trained", reason="run 7 trained m:2", version=2, run_id=7, holdout=["a"]
    )
    assert (trained.version, trained.run_id, trained.holdout) == (2, 7, ["a"])
    assert loop.current("m") == trained
    approved = loop.step(
        started.id, "awaiting_approval", event="approved", reason="by ana", approved_by="ana"
    )
    assert approved.approved_by == "ana"
    done = loop.step(started.id, "rejected", reason="does not beat m:1", gate={"p_value": 0.4})
    assert done.finished and done.finished_at is not None and done.gate == {"p_value": 0.4}
    assert loop.current("m") is None
    assert [e.step for e in loop.events("m")] == ["triggered", "trained", "approved", "rejected"]
    assert loop.events("m")[0].details == {"alert": 3}
    assert loop.events("n") == []
    with pytest.raises(RecordNotFound, match="no retrain"):
        loop.step(started.id + 100, "failed", reason="gone")


def test_steps_are_owed_to_the_webhook_until_delivered(project: Project) -> None:
    loop = project.store.loop
    started = loop.start("m", trigger="new data", production_version=None, details={})
    loop.step(started.id, "failed", reason="the source is unreadable")
    owed = loop.events(undelivered=True)
    assert [e.step for e in owed] == ["triggered", "failed"]
    loop.mark_delivered(owed[0].id)
    assert [e.step for e in loop.events(undelivered=True)] == ["failed"]
    newest, older = (
        loop.runs("m")[0],
        loop.start("n", trigger="t", production_version=1, details={}),
    )
    assert [run.model for run in loop.runs()] == ["n", "m"] and newest.status == "failed"
    assert older.model == "n"
