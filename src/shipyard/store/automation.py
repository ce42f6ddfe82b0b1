"""Automation levels set at run time: how much each model decides alone, and the history
of every change.

A level set here overrides ``automation`` in ``shipyard.yaml`` for its model; the rules of
what each level means live in ``shipyard.review``.  A change is made under a lock on the
model's row, bumps the level's ``revision`` and adds an event, in one transaction.
"""

from __future__ import annotations

import typing

from sqlalchemy import func, select

from shipyard.config import AutomationLevel
from shipyard.errors import InvalidRequest, did_you_mean
from shipyard.store.database import Database
from shipyard.store.records import AutomationEventRecord, AutomationRecord
from shipyard.store.registry import ModelRepository
from shipyard.store.tables import (
    AutomationEventRow,
    AutomationLevelRow,
    RegisteredModelRow,
    utcnow,
)

__all__ = ["LEVELS", "AutomationRepository"]

LEVELS: tuple[str, ...] = typing.get_args(AutomationLevel)


def _check(level: str, target_precision: float | None, max_interval_width: float | None) -> None:
    if level not in LEVELS:
        raise InvalidRequest(
            f"'{level}' is not an automation level; use one of {', '.join(LEVELS)}"
            + did_you_mean(level, LEVELS),
            field="level",
        )
    if target_precision is not None and not 0 < target_precision < 1:
        raise InvalidRequest(
            f"the target precision is a share between 0 and 1 (exclusive); got {target_precision}",
            field="target_precision",
        )
    if max_interval_width is not None and not max_interval_width > 0:
        raise InvalidRequest(
            f"the largest interval width must be above 0; got {max_interval_width}",
            field="max_interval_width",
        )


class AutomationRepository:
    """Stores and reads the automation levels of one project's models."""

    def __init__(self, database: Database, project_id: int, models: ModelRepository) -> None:
        self.database = database
        self.project_id = project_id
        self.models = models

    def get(self, model: str) -> AutomationRecord | None:
        """The level set for ``model``, or None if none was (the configured one applies)."""
        with self.database.reading(f"reading the automation level of '{model}'") as session:
            found = session.scalar(
                select(AutomationLevelRow)
                .join(RegisteredModelRow, RegisteredModelRow.id == AutomationLevelRow.model_id)
                .where(
                    RegisteredModelRow.project_id == self.project_id,
                    RegisteredModelRow.name == model,
                )
            )
            return None if found is None else _record(model, found)

    def levels(self) -> list[AutomationRecord]:
        """The level set for every model that has one, by model name."""
        with self.database.reading("reading automation levels") as session:
            rows = session.execute(
                select(RegisteredModelRow.name, AutomationLevelRow)
                .join(AutomationLevelRow, AutomationLevelRow.model_id == RegisteredModelRow.id)
                .where(RegisteredModelRow.project_id == self.project_id)
                .order_by(RegisteredModelRow.name)
            )
            return [_record(name, row) for name, row in rows]

    def set(
        self,
        model: str,
        *,
        level: str,
        target_precision: float | None,
        max_interval_width: float | None,
        actor: str,
        reason: str,
    ) -> AutomationRecord:
        """Set ``model``'s level and record who changed it, from what, and why."""
        _check(level, target_precision, max_interval_width)
        with self.database.writing(f"setting the automation level of '{model}'") as session:
            model_row = self.models.model_row(session, model, lock=True)
            row = session.get(AutomationLevelRow, model_row.id)
            before = None if row is None else _record(model, row).state()
            now = utcnow()
            if row is None:
                row = AutomationLevelRow(model_id=model_row.id, revision=0)
                session.add(row)
            row.level = level
            row.target_precision = target_precision
            row.max_interval_width = max_interval_width
            row.revision += 1
            row.updated_at = now
            row.updated_by = actor
            session.flush()
            record = _record(model, row)
            session.add(
                AutomationEventRow(
                    model_id=model_row.id,
                    at=now,
                    actor=actor,
                    reason=reason,
                    before=before,
                    after=record.state(),
                )
            )
            return record

    def history(self, model: str) -> list[AutomationEventRecord]:
        """Every change of ``model``'s level, oldest first."""
        with self.database.reading(f"reading the automation history of '{model}'") as session:
            model_row = self.models.model_row(session, model)
            rows = session.scalars(
                select(AutomationEventRow)
                .where(AutomationEventRow.model_id == model_row.id)
                .order_by(AutomationEventRow.id)
            )
            return [
                AutomationEventRecord(
                    id=row.id,
                    model=model,
                    at=row.at,
                    actor=row.actor,
                    reason=row.reason,
                    before=row.before,
                    after=row.after,
                )
                for row in rows
            ]

    def change_marker(self) -> int:
        """The newest automation event of the project: it grows whenever a level changes,
        so a server polling it learns of a change with one indexed query."""
        with self.database.reading("looking for automation changes") as session:
            models = select(RegisteredModelRow.id).where(
                RegisteredModelRow.project_id == self.project_id
            )
            newest = session.scalar(
                select(func.max(AutomationEventRow.id)).where(
                    AutomationEventRow.model_id.in_(models)
                )
            )
            return newest or 0


def _record(model: str, row: AutomationLevelRow) -> AutomationRecord:
    return AutomationRecord(
        model=model,
        level=row.level,  # type: ignore[arg-type]
        target_precision=row.target_precision,
        max_interval_width=row.max_interval_width,
        revision=row.revision,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
