"""What the closed loop stores: each retrain of a model and every step it took.

The rules (when a retrain starts, what the gate asks) live in ``shipyard.loop``; this
module stores and reads.  A step changes the retrain's row and adds its event in one
transaction, so the history never disagrees with the state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from shipyard.errors import RecordNotFound
from shipyard.store.database import Database
from shipyard.store.records import LOOP_FINISHED, LoopEventRecord, LoopRunRecord, LoopStatus
from shipyard.store.tables import LoopEventRow, LoopRunRow, utcnow

__all__ = ["LoopRepository"]


class LoopRepository:
    """Stores and reads one project's retrains."""

    def __init__(self, database: Database, project_id: int) -> None:
        self.database = database
        self.project_id = project_id

    def start(
        self,
        model: str,
        *,
        trigger: str,
        production_version: int | None,
        details: dict[str, Any],
    ) -> LoopRunRecord:
        """A new retrain of ``model``, with its ``triggered`` event."""
        with self.database.writing(f"starting a retrain of '{model}'") as session:
            now = utcnow()
            row = LoopRunRow(
                project_id=self.project_id,
                model=model,
                status="triggered",
                trigger=trigger,
                production_version=production_version,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            session.add(
                LoopEventRow(
                    loop_run_id=row.id,
                    step="triggered",
                    reason=trigger,
                    details=details,
                    at=now,
                    delivered=False,
                )
            )
            return _run(row)

    def step(
        self,
        loop_run: int,
        status: LoopStatus,
        *,
        reason: str,
        event: str | None = None,
        details: dict[str, Any] | None = None,
        **fields: Any,
    ) -> LoopRunRecord:
        """Move retrain ``loop_run`` to ``status`` (with ``fields``: version, run_id,
        deployment_id, holdout, gate, approved_by) and record the step's event, named
        ``event`` (default: the status)."""
        with self.database.writing(f"recording a step of retrain {loop_run}") as session:
            row = session.get(LoopRunRow, loop_run)
            if row is None or row.project_id != self.project_id:
                raise RecordNotFound(f"no retrain {loop_run}; `shipyard loop history` lists them")
            now = utcnow()
            row.status = status
            row.updated_at = now
            if status in LOOP_FINISHED:
                row.finished_at = now
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(
                LoopEventRow(
                    loop_run_id=row.id,
                    step=event or status,
                    reason=reason,
                    details=details or {},
                    at=now,
                    delivered=False,
                )
            )
            session.flush()
            return _run(row)

    def runs(self, model: str | None = None, *, limit: int | None = None) -> list[LoopRunRecord]:
        """Retrains, newest first."""
        query = select(LoopRunRow).where(LoopRunRow.project_id == self.project_id)
        if model is not None:
            query = query.where(LoopRunRow.model == model)
        query = query.order_by(LoopRunRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.database.reading("reading retrains") as session:
            return [_run(row) for row in session.scalars(query)]

    def current(self, model: str) -> LoopRunRecord | None:
        """``model``'s retrain still under way, if any."""
        with self.database.reading(f"reading the retrain of '{model}'") as session:
            row = session.scalar(
                select(LoopRunRow)
                .where(
                    LoopRunRow.project_id == self.project_id,
                    LoopRunRow.model == model,
                    LoopRunRow.status.not_in(LOOP_FINISHED),
                )
                .order_by(LoopRunRow.id.desc())
                .limit(1)
            )
            return None if row is None else _run(row)

    def last_event_id(self) -> int:
        """The newest step's id (0 before any): ``events(after=...)`` reads what follows."""
        with self.database.reading("reading the loop's newest step") as session:
            newest = session.scalar(
                select(func.max(LoopEventRow.id))
                .join(LoopRunRow, LoopRunRow.id == LoopEventRow.loop_run_id)
                .where(LoopRunRow.project_id == self.project_id)
            )
            return newest or 0

    def events(
        self, model: str | None = None, *, undelivered: bool = False, after: int | None = None
    ) -> list[LoopEventRecord]:
        """Steps of retrains, oldest first; ``undelivered``: those the webhook lacks;
        ``after``: those newer than that step's id."""
        query = (
            select(LoopEventRow, LoopRunRow.model)
            .join(LoopRunRow, LoopRunRow.id == LoopEventRow.loop_run_id)
            .where(LoopRunRow.project_id == self.project_id)
        )
        if model is not None:
            query = query.where(LoopRunRow.model == model)
        if undelivered:
            query = query.where(LoopEventRow.delivered.is_(False))
        if after is not None:
            query = query.where(LoopEventRow.id > after)
        with self.database.reading("reading the loop's history") as session:
            return [
                _event(row, name) for row, name in session.execute(query.order_by(LoopEventRow.id))
            ]

    def mark_delivered(self, event_id: int) -> None:
        with self.database.writing(f"recording the delivery of loop event {event_id}") as session:
            session.execute(
                update(LoopEventRow).where(LoopEventRow.id == event_id).values(delivered=True)
            )


def _run(row: LoopRunRow) -> LoopRunRecord:
    return LoopRunRecord(
        id=row.id,
        model=row.model,
        status=row.status,  # type: ignore[arg-type]
        trigger=row.trigger,
        production_version=row.production_version,
        version=row.version,
        run_id=row.run_id,
        deployment_id=row.deployment_id,
        holdout=row.holdout,
        gate=row.gate,
        approved_by=row.approved_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def _event(row: LoopEventRow, model: str) -> LoopEventRecord:
    return LoopEventRecord(
        id=row.id,
        loop_run_id=row.loop_run_id,
        model=model,
        step=row.step,
        reason=row.reason,
        details=row.details,
        at=row.at,
    )
