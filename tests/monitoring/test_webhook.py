"""Alerts POSTed to a real webhook on a loopback port; a webhook that is down costs one
alert's retries and the owed deliveries are paid by a later pass."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard import Project
from shipyard.config import WebhookSettings
from shipyard.monitoring.webhook import deliver_alerts
from tests.monitoring.webhooks import Receiver
from tests.store.helpers import a_window


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def open_alert(project: Project, rule: str = "drift") -> int:
    stored = project.store.monitoring.add_window(a_window(hour=len(rule)))
    return project.store.monitoring.open_alert(
        model="m", version=1, rule=rule, metric="drifted_features", severity="warning",
        value=1.0, message="size drifted", window_id=stored.id,
    ).id  # fmt: skip


def test_an_opened_then_resolved_alert_reaches_the_webhook(
    project: Project, receiver: Receiver
) -> None:
    alert = open_alert(project)
    settings = WebhookSettings(url=receiver.url)
    sent = deliver_alerts(project.store.monitoring, settings, project="demo")
    assert sent.sent == [alert] and sent.error is None
    assert receiver.bodies[0]["event"] == "alert.opened"
    assert receiver.bodies[0]["project"] == "demo"
    assert receiver.bodies[0]["alert"]["message"] == "size drifted"
    assert deliver_alerts(project.store.monitoring, settings, project="demo").sent == []
    project.store.monitoring.resolve_alert(alert, resolution="calm again")
    deliver_alerts(project.store.monitoring, settings, project="demo")
    assert [b["event"] for b in receiver.bodies] == ["alert.opened", "alert.resolved"]


def test_a_failing_webhook_is_retried(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shipyard.monitoring.webhook._BACKOFF_SECONDS", 0.01)
    flaky = Receiver(failures=2)
    try:
        alert = open_alert(project)
        settings = WebhookSettings(url=flaky.url, retries=2)
        sent = deliver_alerts(project.store.monitoring, settings, project="demo")
        assert sent.sent == [alert]
        assert len(flaky.bodies) == 1  # two 503s, then delivered
    finally:
        flaky.close()


def test_a_webhook_that_is_down_owes_its_deliveries(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shipyard.monitoring.webhook._BACKOFF_SECONDS", 0.01)
    first, second = open_alert(project, "drift"), open_alert(project, "output")
    down = Receiver()
    url = down.url
    down.close()  # nothing listens on its port any more
    settings = WebhookSettings(url=url, retries=1, timeout_seconds=1)
    failed = deliver_alerts(project.store.monitoring, settings, project="demo")
    assert failed.sent == [] and failed.failed == [first]  # the second waits its turn
    assert "unreachable" in (failed.error or "")
    stored = {a.id: a for a in project.store.monitoring.alerts()}
    assert stored[first].delivery_attempts == 1 and "unreachable" in stored[first].delivery_error
    assert stored[second].delivery_attempts == 0
    back = Receiver()
    try:
        later = deliver_alerts(
            project.store.monitoring, WebhookSettings(url=back.url), project="demo"
        )
        assert later.sent == [first, second]
        assert [b["alert"]["rule"] for b in back.bodies] == ["drift", "output"]
    finally:
        back.close()
