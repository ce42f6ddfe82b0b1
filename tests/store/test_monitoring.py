"""The monitoring repository on SQLite and PostgreSQL: references, windows, alerts,
deliveries and the per-model lease and cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipyard import Project
from shipyard.errors import RecordNotFound, StoreConflict
from tests.store.helpers import START, a_window


def test_a_reference_is_recorded_once(project: Project) -> None:
    monitoring = project.store.monitoring
    assert monitoring.reference("m", 1) is None
    monitoring.save_reference("m", 1, "a" * 64)
    monitoring.save_reference("m", 1, "b" * 64)  # a second save changes nothing
    assert monitoring.reference("m", 1) == "a" * 64
    assert monitoring.reference("m", 2) is None


def test_windows_are_unique_and_read_oldest_first(project: Project) -> None:
    monitoring = project.store.monitoring
    stored = [monitoring.add_window(a_window(hour=h)) for h in (0, 1, 2)]
    monitoring.add_window(a_window(version=2, hour=1))
    with pytest.raises(StoreConflict):
        monitoring.add_window(a_window(hour=1))
    assert [w.result["hour"] for w in monitoring.windows(model="m", version=1)] == [0, 1, 2]
    assert [w.id for w in monitoring.windows(model="m", version=1, newest=2)] == [
        stored[1].id,
        stored[2].id,
    ]
    assert monitoring.last_window("m", 1, "1h") == stored[2]
    assert monitoring.last_window("m", 1, "5000") is None
    since = monitoring.windows(model="m", since=START + timedelta(hours=1, minutes=30))
    assert [(w.version, w.result["hour"]) for w in since] == [(1, 1), (2, 1), (1, 2)]
    latest = {(w.version, w.result["hour"]) for w in monitoring.latest_windows()}
    assert latest == {(1, 2), (2, 1)}


def test_updating_a_window_replaces_its_result(project: Project) -> None:
    monitoring = project.store.monitoring
    stored = monitoring.add_window(a_window())
    updated = monitoring.update_window(stored.id, result={"performance": {}}, labelled=7)
    assert (updated.result, updated.labelled) == ({"performance": {}}, 7)
    assert monitoring.windows(ids=[stored.id])[0].labelled == 7
    with pytest.raises(RecordNotFound):
        monitoring.update_window(stored.id + 100, result={}, labelled=0)


def test_alerts_open_follow_resolve_and_owe_deliveries(project: Project) -> None:
    monitoring = project.store.monitoring
    first, second = (monitoring.add_window(a_window(hour=h)) for h in (0, 1))
    alert = monitoring.open_alert(
        model="m", version=1, rule="drift", metric="drifted_features", severity="warning",
        value=2.0, message="2 drifted", window_id=first.id,
    )  # fmt: skip
    assert [a.id for a in monitoring.alerts(status="open")] == [alert.id]
    assert [a.id for a in monitoring.alerts(undelivered=True)] == [alert.id]
    monitoring.record_delivery(alert.id, status=None, error="unreachable")
    failed = monitoring.alerts(undelivered=True)[0]
    assert (failed.delivery_attempts, failed.delivery_error) == (1, "unreachable")
    monitoring.record_delivery(alert.id, status="open", error=None)
    assert monitoring.alerts(undelivered=True) == []
    resolved = monitoring.update_alert(
        alert.id, value=0.0, window_id=second.id, resolution="calm again"
    )
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert (resolved.message, resolved.resolution) == ("2 drifted", "calm again")
    assert (resolved.opened_window_id, resolved.last_window_id) == (first.id, second.id)
    assert monitoring.alerts(status="open") == []
    assert [a.id for a in monitoring.alerts(undelivered=True)] == [alert.id]  # owed again
    assert resolved.to_dict()["status"] == "resolved"
    with pytest.raises(RecordNotFound, match="shipyard alerts"):
        monitoring.resolve_alert(alert.id + 100, resolution="gone")


def test_one_monitor_holds_a_model_and_moves_its_cursor(project: Project) -> None:
    monitoring = project.store.monitoring
    assert monitoring.take_lease("m", "a", 60)
    assert monitoring.take_lease("m", "a", 60)  # renewed by its holder
    assert not monitoring.take_lease("m", "b", 60)
    assert monitoring.take_lease("n", "b", 60)  # another model is free
    monitoring.advance("m", "b", cursor=START, spec="1h", passed_at=START)  # not its lease
    assert monitoring.state("m") == (None, None, None)
    monitoring.advance("m", "a", cursor=START, spec="1h", passed_at=START)
    assert monitoring.state("m") == (START, "1h", START)
    monitoring.release_lease("m", "a")
    assert monitoring.take_lease("m", "b", 60)
    assert monitoring.state("m") == (START, "1h", START)  # the cursor survives the lease


def test_an_expired_lease_is_taken_over(project: Project) -> None:
    monitoring = project.store.monitoring
    assert monitoring.take_lease("m", "a", -1)  # expired at once: the holder died
    assert monitoring.take_lease("m", "b", 60)
