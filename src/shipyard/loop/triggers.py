"""When a model retrains itself: the triggers of its policy, and the guard on how often.

A retrain starts when one trigger is due and the last retrain started at least
``min_interval`` ago:

- an open alert of the production version (any rule, or the rules named);
- ``new_labels`` labels received since production was trained;
- new data: the source's content is not the data production learned from;
- a schedule: production is older than ``schedule``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from shipyard.config import LoopSettings
from shipyard.prediction_log import parse_duration
from shipyard.store import MetadataStore
from shipyard.store.records import ModelVersionRecord

__all__ = ["Trigger", "due_trigger"]


@dataclass(frozen=True)
class Trigger:
    """Why a retrain starts, in words and in figures."""

    reason: str
    details: dict[str, Any]


def due_trigger(
    model: str,
    settings: LoopSettings,
    *,
    store: MetadataStore,
    production: ModelVersionRecord,
    labelled: Callable[[], pd.DataFrame],
    source_digest: Callable[[], str | None],
    now: datetime,
) -> Trigger | None:
    """The first trigger that is due for ``model``, or None (or too soon since the last).

    ``labelled`` gives the model's labelled predictions (``PredictionLog.labelled_rows``)
    and ``source_digest`` the source's content hash as it is now (None: no source); each
    is called only when its trigger is reached, since reading the log or hashing the
    source costs more than a pass that finds nothing due.
    """
    last = store.loop.runs(model, limit=1)
    interval = timedelta(seconds=parse_duration(settings.min_interval))
    if last and now - last[0].created_at < interval:
        return None
    triggers = settings.triggers
    if triggers.alerts is not None:
        for alert in store.monitoring.alerts(model=model, status="open"):
            wanted = triggers.alerts == "any" or alert.rule in triggers.alerts
            if wanted and alert.version == production.version:
                return Trigger(
                    f"alert '{alert.rule}' of {model}:{alert.version}: {alert.message}",
                    {"alert": alert.id, "rule": alert.rule, "severity": alert.severity},
                )
    found = labelled() if triggers.new_labels is not None else None
    if triggers.new_labels is not None and found is not None and not found.empty:
        fresh = int((found["received_at"] > production.created_at).sum())
        if fresh >= triggers.new_labels:
            return Trigger(
                f"{fresh} labels arrived since {production.ref} was trained "
                f"(the policy retrains at {triggers.new_labels})",
                {"new_labels": fresh},
            )
    if triggers.new_data and production.dataset_version_id:
        now_digest = source_digest()
        trained_on = store.datasets.get(production.dataset_version_id).digest
        if now_digest is not None and trained_on != now_digest:
            return Trigger(
                f"the source changed since {production.ref} was trained "
                f"({trained_on[:12]} then, {now_digest[:12]} now)",
                {"trained_on": trained_on, "source": now_digest},
            )
    if triggers.schedule is not None:
        age = now - production.created_at
        if age >= timedelta(seconds=parse_duration(triggers.schedule)):
            return Trigger(
                f"{production.ref} is {age.days} days old (the policy retrains every "
                f"{triggers.schedule})",
                {"age_seconds": age.total_seconds()},
            )
    return None
