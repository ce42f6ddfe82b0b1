"""One monitoring pass: the windows that are due, the labels that arrived, the alerts.

For each model (under a lease, so two monitors never act on one model) a pass

1. reads the prediction log from the model's cursor to the last closed window, cuts it
   into windows per version, and for each window computes its statistics (stored as an
   artifact), compares them with the version's reference and stores the result;
2. recomputes the realised performance of recent windows that labels arrived for;
3. reads the alert rules against each touched version's latest windows: an alert opens
   when a rule is crossed in ``windows`` windows in a row and resolves at the first
   window that is not; alerts of versions that no longer serve are resolved;
4. moves the cursor, so the next pass starts where this one ended.

Then owed webhook deliveries are paid.  A pass killed midway leaves stored windows
stored and the cursor where it was: the next pass skips the windows it finds and goes on.

>>> result = project.monitor.run_once()  # doctest: +SKIP
>>> [window.result["drifted"] for window in result.windows]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from shipyard.artifacts import ArtifactStore
from shipyard.config import AlertRule, MonitoringSettings
from shipyard.errors import MonitoringError
from shipyard.monitoring.assessment import assess, performance, window_statistics
from shipyard.monitoring.reference import Reference, stored_reference
from shipyard.monitoring.rules import read_rule, rules_for
from shipyard.monitoring.webhook import Deliveries, deliver_alerts
from shipyard.monitoring.windows import Cut, WindowSpec, cut_windows
from shipyard.prediction_log import PredictionLog, parse_duration, parse_since
from shipyard.store import MetadataStore
from shipyard.store.monitoring import MonitoringRepository
from shipyard.store.records import (
    AlertRecord,
    LoopEventRecord,
    MonitorWindowRecord,
    NewWindow,
)
from shipyard.store.tables import utcnow

if TYPE_CHECKING:
    from shipyard.monitoring.report import ReportData

__all__ = ["ModelPass", "Monitor", "MonitorPass", "local_owner", "take_lease", "window_dict"]

LEASE_SECONDS = 600.0

Progress = Callable[[str, int, int], None]
"""Told ``(model, windows done, windows due)`` as a pass computes windows."""
_MICROSECOND = timedelta(microseconds=1)


def local_owner() -> str:
    """This process, as a lease names its holder: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(repository: MonitoringRepository, model: str, owner: str, seconds: float) -> bool:
    """Hold ``model`` for ``seconds``, taking it over from a process of this machine
    that died holding it (``kill -9`` leaves its lease behind until it expires)."""
    if repository.take_lease(model, owner, seconds):
        return True
    holder = repository.holder(model)
    if holder is None:  # freed or expired since
        return repository.take_lease(model, owner, seconds)
    return _dead_here(holder) and repository.take_over(model, owner, seconds, previous=holder)


def _dead_here(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def window_dict(
    window: MonitorWindowRecord, alerts: list[AlertRecord] | None = None
) -> dict[str, Any]:
    """A stored window as JSON: where and what it is, its result, and the alerts it
    opened or resolved."""
    changed = []
    for alert in alerts or []:
        if alert.opened_window_id == window.id:
            changed.append({**_alert_brief(alert), "state": "opened"})
        if alert.status == "resolved" and alert.last_window_id == window.id:
            changed.append(
                {**_alert_brief(alert), "state": "resolved", "resolution": alert.resolution}
            )
    return {
        "id": window.id,
        "model": window.model,
        "version": window.version,
        "window": window.spec,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "count": window.count,
        "labelled": window.labelled,
        **window.result,
        "alerts": changed,
    }


def _alert_brief(alert: AlertRecord) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "metric": alert.metric,
        "severity": alert.severity,
        "value": alert.value,
        "message": alert.message,
    }


@dataclass
class ModelPass:
    """What a pass did for one model."""

    model: str
    windows: list[MonitorWindowRecord] = field(default_factory=list)
    refreshed: list[MonitorWindowRecord] = field(default_factory=list)
    opened: list[AlertRecord] = field(default_factory=list)
    resolved: list[AlertRecord] = field(default_factory=list)
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class MonitorPass:
    """What one pass did: per model, and the webhook deliveries."""

    models: list[ModelPass]
    deliveries: Deliveries | None
    alerts: list[AlertRecord]
    """Every alert of the models passed (to show the windows' changes)."""
    loop: list[LoopEventRecord] = field(default_factory=list)
    """The retraining loop's steps taken in the same pass (``Project.monitor_pass``)."""

    @property
    def windows(self) -> list[MonitorWindowRecord]:
        return [window for model in self.models for window in model.windows]

    def to_dict(self) -> dict[str, Any]:
        def alert_list(records: list[AlertRecord]) -> list[dict[str, Any]]:
            return [record.to_dict() for record in records]

        return {
            "windows": [window_dict(w, self.alerts) for w in self.windows],
            "refreshed": [window_dict(w, self.alerts) for m in self.models for w in m.refreshed],
            "opened": alert_list([a for m in self.models for a in m.opened]),
            "resolved": alert_list([a for m in self.models for a in m.resolved]),
            "skipped": {m.model: m.skipped for m in self.models if m.skipped},
            "problems": {m.model: m.problems for m in self.models if m.problems},
            "loop": [event.to_dict() for event in self.loop],
            "webhook": None
            if self.deliveries is None
            else {
                "sent": self.deliveries.sent,
                "failed": self.deliveries.failed,
                "error": self.deliveries.error,
            },
        }


class Monitor:
    """Monitoring of one project's models over its prediction log.

    ``registry`` is the project's ``ModelRegistry``: a version's reference needs its
    package once.  ``clock`` is the current time (tests move it).
    """

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        registry: Any,
        log: PredictionLog,
        settings: MonitoringSettings,
        *,
        project: str,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.registry = registry
        self.log = log
        self.settings = settings
        self.project = project
        self.owner = owner or local_owner()
        self.clock = clock
        self.spec = WindowSpec.parse(settings.window)
        self._references: dict[tuple[str, int], Reference | MonitoringError] = {}

    def run_once(
        self, model: str | None = None, *, progress: Progress | None = None
    ) -> MonitorPass:
        """One pass over ``model`` (default: every registered model); ``progress`` hears
        of each window computed: ``(model, windows done, windows due)``."""
        names = [model] if model is not None else [m.name for m in self.registry.models()]
        if model is not None:
            self.registry.versions(model)  # an unknown name is a ModelNotFound here
        passes = [self._model_pass(name, progress) for name in names]
        deliveries = None
        if self.settings.webhook is not None:
            deliveries = deliver_alerts(
                self.store.monitoring, self.settings.webhook, project=self.project
            )
        alerts = [a for name in names for a in self.store.monitoring.alerts(model=name)]
        return MonitorPass(models=passes, deliveries=deliveries, alerts=alerts)

    def report_data(
        self,
        model: str,
        *,
        since: str | None = "30d",
        newest: int | None = None,
        merged: int | None = None,
    ) -> ReportData:
        """What ``model``'s report draws: the windows ending after ``since`` (None: all),
        at most the ``newest`` of them, with the model's alerts.

        The reference drawn is that of the version of the newest window; the current
        distributions merge that version's windows in the range, or only its ``merged``
        newest (each is one stored artifact to read and merge: tens of milliseconds).
        """
        from shipyard.data.statistics import DatasetStatistics
        from shipyard.monitoring.report import ReportData

        self.registry.versions(model)  # an unknown name is a ModelNotFound here
        windows = self.store.monitoring.windows(
            model=model,
            spec=self.spec.text,
            since=None if since is None else parse_since(since),
            newest=newest,
        )
        alerts = self.store.monitoring.alerts(model=model)
        if windows:
            version = windows[-1].version
        else:
            production = self.registry.find(model, "production")
            versions = self.registry.versions(model)
            if production is None and not versions:
                raise MonitoringError(f"model '{model}' has no version to report on")
            version = (production or versions[-1]).version
        reference = self._reference(model, version)
        current: DatasetStatistics | None = None
        same = [window for window in windows if window.version == version]
        for window in same if merged is None else same[-merged:]:
            body = json.loads(self.artifacts.materialize(window.statistics, "file").read_bytes())
            inputs = DatasetStatistics.from_dict(body["inputs"])
            current = inputs if current is None else current.merge(inputs)
        return ReportData(
            model=model,
            reference=reference.train,
            current=current,
            windows=[window_dict(w, alerts) for w in windows],
            alerts=[a.to_dict() for a in alerts],
            generated_at=self.clock(),
        )

    def write_report(self, model: str, path: Path, *, since: str = "30d") -> Path:
        """Write ``model``'s HTML report of the windows ending after ``since``
        (see ``report_data``)."""
        from shipyard.monitoring.report import write_report

        return write_report(self.report_data(model, since=since), path)

    # -- one model ------------------------------------------------------------------

    def _model_pass(self, name: str, progress: Progress | None) -> ModelPass:
        report = ModelPass(model=name)
        repository = self.store.monitoring
        if not take_lease(repository, name, self.owner, LEASE_SECONDS):
            report.skipped = "another monitor holds its lease"
            return report
        try:
            now = self.clock()
            cursor, spec, passed_at = repository.state(name)
            if spec != self.spec.text:
                cursor = None  # a new window size starts from the beginning
            cursor = self._new_windows(name, cursor, now, report, progress)
            self._refresh(name, passed_at, now, report)
            touched = {w.version for w in [*report.windows, *report.refreshed]}
            for version in sorted(touched):
                self._apply_rules(name, version, report)
            self._retire(name, report)
            repository.advance(name, self.owner, cursor=cursor, spec=self.spec.text, passed_at=now)
        finally:
            repository.release_lease(name, self.owner)
        return report

    def _reference(self, name: str, version: int) -> Reference:
        key = (name, version)
        if key not in self._references:
            try:
                record = self.registry.resolve(f"{name}:{version}")
                self._references[key] = stored_reference(
                    record, store=self.store, artifacts=self.artifacts, registry=self.registry
                )
            except MonitoringError as exc:
                self._references[key] = exc
        found = self._references[key]
        if isinstance(found, MonitoringError):
            raise found
        return found

    def _new_windows(
        self,
        name: str,
        cursor: datetime | None,
        now: datetime,
        report: ModelPass,
        progress: Progress | None,
    ) -> datetime | None:
        """Compute and store the windows due since ``cursor``; the new cursor."""
        until = None
        if self.spec.seconds is not None:
            until = self.spec.closed_before(now, lateness=self.settings.lateness_seconds)
            if cursor is not None and cursor >= until:
                return cursor
        rows = self.log.read(model=name, since=cursor, until=until)
        if rows.empty:
            return until if until is not None else cursor
        rows = self._unseen(name, rows)
        cuts, pending = cut_windows(rows, self.spec, until=until)
        labels = self.log.labels(since=cursor)
        for done, cut in enumerate(cuts, start=1):
            if progress is not None:
                progress(name, done - 1, len(cuts))
            try:
                reference = self._reference(name, cut.version)
            except MonitoringError as exc:
                problem = f"version {cut.version}: {exc}"
                if problem not in report.problems:
                    report.problems.append(problem)
                continue
            report.windows.append(self._store_window(name, cut, reference, labels))
        if until is not None:
            return until
        if pending:
            return min(pending.values())
        newest: datetime = rows["timestamp"].max().to_pydatetime()
        return newest + _MICROSECOND

    def _unseen(self, name: str, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` without those inside windows already stored (a pass killed before
        it moved the cursor, or a cursor reset by a new window size)."""
        keep = pd.Series(True, index=rows.index)
        for version in rows["version"].unique():
            last = self.store.monitoring.last_window(name, int(version), self.spec.text)
            if last is not None:
                keep &= ~((rows["version"] == version) & (rows["timestamp"] < last.end))
        return rows[keep]

    def _store_window(
        self, name: str, cut: Cut, reference: Reference, labels: pd.DataFrame
    ) -> MonitorWindowRecord:
        statistics = window_statistics(cut.rows, reference)
        body = json.dumps(
            {"inputs": statistics[0].to_dict(), "outputs": statistics[1].to_dict()},
            sort_keys=True,
        ).encode()
        digest = self.artifacts.put_bytes(body, name="window.json").digest
        result = assess(cut.rows, statistics, reference, self.settings, labels=labels)
        labelled = 0 if result["performance"] is None else _labelled(result)
        return self.store.monitoring.add_window(
            NewWindow(
                model=name,
                version=cut.version,
                spec=self.spec.text,
                start=cut.start,
                end=cut.end,
                count=len(cut.rows),
                statistics=digest,
                result=result,
                labelled=labelled,
            )
        )

    def _refresh(
        self, name: str, passed_at: datetime | None, now: datetime, report: ModelPass
    ) -> None:
        """Recompute realised performance of recent windows that labels arrived for."""
        if passed_at is not None and self.log.labels(since=passed_at).empty:
            return
        horizon = now - timedelta(seconds=parse_duration(self.settings.label_horizon))
        fresh = {w.id for w in report.windows}
        windows = [
            w
            for w in self.store.monitoring.windows(model=name, spec=self.spec.text, since=horizon)
            if w.id not in fresh
        ]
        if not windows:
            return
        since = min(w.start for w in windows)
        labelled = self.log.predictions_with_feedback(model=name, since=since)
        if labelled.empty:
            return
        for window in windows:
            inside = labelled[
                (labelled["version"] == window.version)
                & (labelled["timestamp"] >= window.start)
                & (labelled["timestamp"] < window.end)
            ]
            if len(inside) == window.labelled:
                continue
            try:
                reference = self._reference(name, window.version)
            except MonitoringError:
                continue
            labels = inside[["prediction_id", "label"]]
            found = performance(inside.drop(columns=["label"]), labels, reference)
            result = {**window.result, "performance": found}
            report.refreshed.append(
                self.store.monitoring.update_window(
                    window.id, result=result, labelled=0 if found is None else _labelled(result)
                )
            )

    def _rules(self, name: str, version: int) -> list[AlertRule]:
        return rules_for(self.settings, self._reference(name, version).task)

    def _apply_rules(self, name: str, version: int, report: ModelPass) -> None:
        """Open, follow or resolve ``version``'s alerts: at each window this pass made,
        oldest first (one pass may see a drift start and end), or at its latest window
        when only labels arrived."""
        try:
            rules = self._rules(name, version)
        except MonitoringError:
            return
        if not rules:
            return
        new = [w.id for w in report.windows if w.version == version]
        history = self.store.monitoring.windows(
            model=name,
            version=version,
            spec=self.spec.text,
            newest=len(new) + max(rule.windows for rule in rules),
        )
        if not history:
            return
        ends = [i for i, w in enumerate(history) if w.id in new] or [len(history) - 1]
        open_alerts = {
            a.rule: a
            for a in self.store.monitoring.alerts(model=name, status="open")
            if a.version == version
        }
        for end in ends:
            recent = history[: end + 1]
            for rule in rules:
                changed = self._read_rule(rule, recent, open_alerts.get(rule.name), report)
                if changed is None or changed.status == "resolved":
                    open_alerts.pop(rule.name, None)
                else:
                    open_alerts[rule.name] = changed

    def _read_rule(
        self,
        rule: AlertRule,
        recent: list[MonitorWindowRecord],
        alert: AlertRecord | None,
        report: ModelPass,
    ) -> AlertRecord | None:
        """Apply one rule at the last of ``recent``; the rule's open alert afterwards."""
        repository = self.store.monitoring
        latest = recent[-1]
        readings = [read_rule(rule, window_dict(w)) for w in recent[-rule.windows :]]
        reading = readings[-1]
        if len(readings) == rule.windows and all(r.crossed for r in readings):
            message = reading.message
            if rule.windows > 1:
                message += f"; {rule.windows} windows in a row"
            if alert is None:
                opened = repository.open_alert(
                    model=latest.model,
                    version=latest.version,
                    rule=rule.name,
                    metric=rule.metric,
                    severity=rule.severity,
                    value=reading.value,
                    message=message,
                    window_id=latest.id,
                )
                report.opened.append(opened)
                return opened
            if alert.last_window_id != latest.id:
                return repository.update_alert(alert.id, value=reading.value, window_id=latest.id)
            return alert
        if reading.crossed is False and alert is not None:
            resolved = repository.update_alert(
                alert.id, value=reading.value, window_id=latest.id, resolution=reading.message
            )
            report.resolved.append(resolved)
            return None
        return alert

    def _retire(self, name: str, report: ModelPass) -> None:
        """Resolve the open alerts of versions that serve no longer."""
        serving = {v.version for v in self.registry.versions(name) if v.aliases}
        for deployment in self.store.deployments.active(name):
            serving |= {deployment.primary_version, deployment.candidate_version}
        if not serving:
            return
        for alert in self.store.monitoring.alerts(model=name, status="open"):
            if alert.version not in serving:
                report.resolved.append(
                    self.store.monitoring.resolve_alert(
                        alert.id, resolution=f"version {alert.version} no longer serves"
                    )
                )


def _labelled(result: dict[str, Any]) -> int:
    performance = result["performance"] or {}
    return max((int(metric["count"]) for metric in performance.values()), default=0)
