"""POSTing alerts to a webhook: JSON, a timeout, a few retries, never a stopped pass.

Each alert records the status last delivered; an alert whose status the webhook has not
received is owed a delivery, and every pass pays what is owed.  A webhook that is down
costs one alert's retries per pass: after a delivery fails every retry, the others wait
for the next pass instead of each waiting out its own timeouts.

The body is ``{"event": "alert.opened" | "alert.resolved", "project": ..., "alert":
{...}}`` (``AlertRecord.to_dict``); the retraining loop sends its steps the same way.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shipyard.config import WebhookSettings
from shipyard.store.monitoring import MonitoringRepository
from shipyard.store.records import AlertRecord

__all__ = ["Deliveries", "deliver", "deliver_alerts", "post_json"]

_BACKOFF_SECONDS = 0.5  # before the first retry; doubled before each next one
_EVENTS = {"open": "alert.opened", "resolved": "alert.resolved"}


@dataclass
class Deliveries:
    """What a pass delivered: alert ids sent, and the error that stopped the rest."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    error: str | None = None


def deliver_alerts(
    repository: MonitoringRepository, webhook: WebhookSettings, *, project: str
) -> Deliveries:
    """Send every owed alert, oldest first; stop at the first that fails every retry."""

    def recorder(alert: AlertRecord) -> Callable[[str | None], None]:
        def record(error: str | None) -> None:
            status = None if error else alert.status
            repository.record_delivery(alert.id, status=status, error=error)

        return record

    return deliver(
        webhook,
        [
            (
                alert.id,
                {"event": _EVENTS[alert.status], "project": project, "alert": alert.to_dict()},
                recorder(alert),
            )
            for alert in reversed(repository.alerts(undelivered=True))
        ],
    )


def deliver(
    webhook: WebhookSettings,
    owed: Iterable[tuple[int, dict[str, Any], Callable[[str | None], None]]],
) -> Deliveries:
    """POST each owed ``(id, body, record)`` in turn, calling ``record`` with the error
    (None when delivered); stop at the first that fails every retry: the rest wait for
    the next pass rather than each waiting out its own timeouts."""
    result = Deliveries()
    for key, body, record in owed:
        error = post_json(webhook, json.dumps(body).encode())
        record(error)
        if error:
            result.failed.append(key)
            result.error = error
            break
        result.sent.append(key)
    return result


def post_json(webhook: WebhookSettings, body: bytes) -> str | None:
    """POST ``body``; None when the webhook answered 2xx, else the last error."""
    error = None
    for attempt in range(webhook.retries + 1):
        if attempt:
            time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
        request = urllib.request.Request(
            webhook.url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "shipyard-monitor"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=webhook.timeout_seconds) as response:
                if 200 <= response.status < 300:
                    return None
                error = f"the webhook answered HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            error = f"the webhook answered HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"the webhook at {webhook.url} is unreachable: {reason}"
    return error
