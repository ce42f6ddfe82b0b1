"""What monitoring stores: each version's reference, the windows computed over the
prediction log, alerts with their webhook deliveries, and the lease on a model.

The rules (what a window holds, when an alert opens) live in ``shipyard.monitoring``;
this module stores and reads.  Windows are unique per model, version, window size and
start, so a window is computed once; a monitor holds a model's lease while it acts on
it, so two watchers never compute the same window or open the same alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.errors import RecordNotFound
from shipyard.store.database import Database
from shipyard.store.records import AlertRecord, MonitorWindowRecord, NewWindow
from shipyard.store.tables import (
    AlertRow,
    MonitorReferenceRow,
    MonitorStateRow,
    MonitorWindowRow,
    utcnow,
)

__all__ = ["MonitoringRepository"]


class MonitoringRepository:
    """Stores and reads one project's monitoring records."""

    def __init__(self, database: Database, project_id: int) -> None:
        self.database = database
        self.project_id = project_id

    def _insert(self, table: type[MonitorReferenceRow | MonitorStateRow]) -> Any:
        """An INSERT into ``table`` that leaves a row already there as it is."""
        dialect = postgresql if self.database.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    # -- references -----------------------------------------------------------------

    def reference(self, model: str, version: int) -> str | None:
        """The digest of ``model:version``'s reference artifact, if one was made."""
        with self.database.reading(f"reading the reference of {model}:{version}") as session:
            return session.scalar(
                select(MonitorReferenceRow.digest).where(
                    MonitorReferenceRow.project_id == self.project_id,
                    MonitorReferenceRow.model == model,
                    MonitorReferenceRow.version == version,
                )
            )

    def save_reference(self, model: str, version: int, digest: str) -> None:
        """Record ``model:version``'s reference (made once; a second save is ignored)."""
        with self.database.writing(f"recording the reference of {model}:{version}") as session:
            values = {
                "project_id": self.project_id,
                "model": model,
                "version": version,
                "digest": digest,
                "created_at": utcnow(),
            }
            session.execute(self._insert(MonitorReferenceRow).values(**values))

    # -- windows --------------------------------------------------------------------

    def add_window(self, window: NewWindow) -> MonitorWindowRecord:
        """Store a computed window; ``StoreConflict`` if it was stored already."""
        with self.database.writing(f"storing a window of {window.model}") as session:
            now = utcnow()
            row = MonitorWindowRow(
                project_id=self.project_id,
                model=window.model,
                version=window.version,
                spec=window.spec,
                start=window.start,
                end=window.end,
                count=window.count,
                statistics=window.statistics,
                result=window.result,
                labelled=window.labelled,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _window(row)

    def update_window(
        self, window_id: int, *, result: dict[str, Any], labelled: int
    ) -> MonitorWindowRecord:
        """Replace a window's result (its realised performance, as labels arrive)."""
        with self.database.writing(f"updating window {window_id}") as session:
            row = session.get(MonitorWindowRow, window_id)
            if row is None or row.project_id != self.project_id:
                raise RecordNotFound(f"no monitoring window {window_id}")
            row.result = result
            row.labelled = labelled
            row.updated_at = utcnow()
            session.flush()
            return _window(row)

    def last_window(self, model: str, version: int, spec: str) -> MonitorWindowRecord | None:
        """The latest window of ``model:version`` with this window size."""
        with self.database.reading(f"reading the last window of {model}") as session:
            row = session.scalar(
                select(MonitorWindowRow)
                .where(
                    MonitorWindowRow.project_id == self.project_id,
                    MonitorWindowRow.model == model,
                    MonitorWindowRow.version == version,
                    MonitorWindowRow.spec == spec,
                )
                .order_by(MonitorWindowRow.end.desc())
                .limit(1)
            )
            return None if row is None else _window(row)

    def windows(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        spec: str | None = None,
        since: datetime | None = None,
        ids: Sequence[int] | None = None,
        newest: int | None = None,
    ) -> list[MonitorWindowRecord]:
        """Windows that end after ``since`` (or the ``newest`` ones), oldest first."""
        query = select(MonitorWindowRow).where(MonitorWindowRow.project_id == self.project_id)
        if model is not None:
            query = query.where(MonitorWindowRow.model == model)
        if version is not None:
            query = query.where(MonitorWindowRow.version == version)
        if spec is not None:
            query = query.where(MonitorWindowRow.spec == spec)
        if since is not None:
            query = query.where(MonitorWindowRow.end > since)
        if ids is not None:
            query = query.where(MonitorWindowRow.id.in_(list(ids)))
        query = query.order_by(MonitorWindowRow.end.desc(), MonitorWindowRow.id.desc())
        if newest is not None:
            query = query.limit(newest)
        with self.database.reading("reading monitoring windows") as session:
            return [_window(row) for row in reversed(list(session.scalars(query)))]

    def latest_windows(self) -> list[MonitorWindowRecord]:
        """The newest window of every model version (for the server's gauges)."""
        newest = (
            select(
                MonitorWindowRow.model,
                MonitorWindowRow.version,
                func.max(MonitorWindowRow.id).label("id"),
            )
            .where(MonitorWindowRow.project_id == self.project_id)
            .group_by(MonitorWindowRow.model, MonitorWindowRow.version)
            .subquery()
        )
        with self.database.reading("reading the latest monitoring windows") as session:
            rows = session.scalars(
                select(MonitorWindowRow)
                .join(newest, newest.c.id == MonitorWindowRow.id)
                .order_by(MonitorWindowRow.model, MonitorWindowRow.version)
            )
            return [_window(row) for row in rows]

    # -- alerts ---------------------------------------------------------------------

    def open_alert(
        self,
        *,
        model: str,
        version: int,
        rule: str,
        metric: str,
        severity: str,
        value: float | None,
        message: str,
        window_id: int,
    ) -> AlertRecord:
        with self.database.writing(f"opening alert '{rule}' of {model}:{version}") as session:
            row = AlertRow(
                project_id=self.project_id,
                model=model,
                version=version,
                rule=rule,
                metric=metric,
                severity=severity,
                status="open",
                value=value,
                message=message,
                opened_at=utcnow(),
                opened_window_id=window_id,
                last_window_id=window_id,
                delivery_attempts=0,
            )
            session.add(row)
            session.flush()
            return _alert(row)

    def update_alert(
        self,
        alert_id: int,
        *,
        value: float | None,
        window_id: int,
        resolution: str | None = None,
    ) -> AlertRecord:
        """Follow an open alert to a later window; a ``resolution`` closes it there."""
        with self.database.writing(f"updating alert {alert_id}") as session:
            row = self._alert_row(session, alert_id)
            row.value = value
            row.last_window_id = window_id
            if resolution is not None:
                row.status = "resolved"
                row.resolved_at = utcnow()
                row.resolution = resolution
            session.flush()
            return _alert(row)

    def resolve_alert(self, alert_id: int, *, resolution: str) -> AlertRecord:
        """Close an alert for a reason outside its windows (its version no longer serves)."""
        with self.database.writing(f"resolving alert {alert_id}") as session:
            row = self._alert_row(session, alert_id)
            row.status = "resolved"
            row.resolved_at = utcnow()
            row.resolution = resolution
            session.flush()
            return _alert(row)

    def alerts(
        self,
        *,
        model: str | None = None,
        status: str | None = None,
        undelivered: bool = False,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        """Alerts, newest first; ``undelivered``: those whose status the webhook lacks."""
        query = select(AlertRow).where(AlertRow.project_id == self.project_id)
        if model is not None:
            query = query.where(AlertRow.model == model)
        if status is not None:
            query = query.where(AlertRow.status == status)
        if undelivered:
            query = query.where(
                AlertRow.delivered.is_(None) | (AlertRow.delivered != AlertRow.status)
            )
        query = query.order_by(AlertRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.database.reading("reading alerts") as session:
            return [_alert(row) for row in session.scalars(query)]

    def record_delivery(self, alert_id: int, *, status: str | None, error: str | None) -> None:
        """Note a webhook delivery: ``status`` delivered, or ``error`` and no change."""
        with self.database.writing(f"recording the delivery of alert {alert_id}") as session:
            row = self._alert_row(session, alert_id)
            row.delivery_attempts += 1
            row.delivery_error = error
            if status is not None:
                row.delivered = status

    def _alert_row(self, session: Any, alert_id: int) -> AlertRow:
        row = session.get(AlertRow, alert_id)
        if row is None or row.project_id != self.project_id:
            raise RecordNotFound(f"no alert {alert_id}; `shipyard alerts` lists them")
        found: AlertRow = row
        return found

    # -- leases ---------------------------------------------------------------------

    def take_lease(self, model: str, owner: str, seconds: float) -> bool:
        """Hold ``model`` for ``seconds``: True if ``owner`` holds it now (it was free,
        expired, or already ``owner``'s), False if another monitor holds it."""
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        with self.database.writing(f"leasing '{model}' for monitoring") as session:
            insert = (
                postgresql.insert(MonitorStateRow)
                if self.database.engine.dialect.name == "postgresql"
                else sqlite.insert(MonitorStateRow)
            )
            session.execute(
                insert.values(
                    project_id=self.project_id, model=model, owner=owner, until=until
                ).on_conflict_do_nothing()
            )
            taken = session.execute(
                update(MonitorStateRow)
                .where(
                    MonitorStateRow.project_id == self.project_id,
                    MonitorStateRow.model == model,
                    (MonitorStateRow.owner == owner) | (MonitorStateRow.until < now),
                )
                .values(owner=owner, until=until)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def state(self, model: str) -> tuple[datetime | None, str | None, datetime | None]:
        """``model``'s cursor, the window size it was cut with, and the last pass's time."""
        with self.database.reading(f"reading the monitoring state of '{model}'") as session:
            row = session.get(MonitorStateRow, (self.project_id, model))
            return (None, None, None) if row is None else (row.cursor, row.spec, row.passed_at)

    def advance(
        self, model: str, owner: str, *, cursor: datetime | None, spec: str, passed_at: datetime
    ) -> None:
        """Move ``model``'s cursor after a pass; only the lease's holder may."""
        with self.database.writing(f"advancing the monitoring state of '{model}'") as session:
            session.execute(
                update(MonitorStateRow)
                .where(
                    MonitorStateRow.project_id == self.project_id,
                    MonitorStateRow.model == model,
                    MonitorStateRow.owner == owner,
                )
                .values(cursor=cursor, spec=spec, passed_at=passed_at)
            )

    def holder(self, model: str) -> str | None:
        """Who holds ``model``'s lease now (None when it is free or has expired)."""
        with self.database.reading(f"reading the monitoring lease of '{model}'") as session:
            row = session.get(MonitorStateRow, (self.project_id, model))
            return None if row is None or row.until < utcnow() else row.owner

    def take_over(self, model: str, owner: str, seconds: float, *, previous: str) -> bool:
        """Take ``model``'s lease from ``previous`` (whose process is known to be gone),
        if ``previous`` still holds it."""
        with self.database.writing(f"taking over the monitoring lease of '{model}'") as session:
            taken = session.execute(
                update(MonitorStateRow)
                .where(
                    MonitorStateRow.project_id == self.project_id,
                    MonitorStateRow.model == model,
                    MonitorStateRow.owner == previous,
                )
                .values(owner=owner, until=utcnow() + timedelta(seconds=seconds))
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def release_lease(self, model: str, owner: str) -> None:
        with self.database.writing(f"releasing the monitoring lease of '{model}'") as session:
            session.execute(
                update(MonitorStateRow)
                .where(
                    MonitorStateRow.project_id == self.project_id,
                    MonitorStateRow.model == model,
                    MonitorStateRow.owner == owner,
                )
                .values(until=utcnow() - timedelta(seconds=1))
            )


def _window(row: MonitorWindowRow) -> MonitorWindowRecord:
    return MonitorWindowRecord(
        id=row.id,
        model=row.model,
        version=row.version,
        spec=row.spec,
        start=row.start,
        end=row.end,
        count=row.count,
        statistics=row.statistics,
        result=row.result,
        labelled=row.labelled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _alert(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        model=row.model,
        version=row.version,
        rule=row.rule,
        metric=row.metric,
        severity=row.severity,
        status=row.status,  # type: ignore[arg-type]
        value=row.value,
        message=row.message,
        resolution=row.resolution,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        opened_window_id=row.opened_window_id,
        last_window_id=row.last_window_id,
        delivered=row.delivered,
        delivery_attempts=row.delivery_attempts,
        delivery_error=row.delivery_error,
    )
