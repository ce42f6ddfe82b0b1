"""Alerts POSTed to a real webhook on a loopback port; a webhook that is down costs one
alert's retries and the owed deliveries are paid by a later pass."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shipyard import Project
from shipyard.config import WebhookSettings
from shipyard.monitoring.webhook import deliver_alerts
from tests.store.test_monitoring import window


class Receiver:
    """A webhook: records each POSTed JSON body; answers ``status`` (and fails the
    first ``failures`` requests with 503)."""

    def __init__(self, *, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def open_alert(project: Project, rule: str = "drift") -> int:
    stored = project.store.monitoring.add_window(window(hour=len(rule)))
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
    project.store.monitoring.resolve_alert(alert, message="resolved: calm again")
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
