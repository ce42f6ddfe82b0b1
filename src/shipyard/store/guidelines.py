"""Labelling guidelines: numbered versions of each model's guideline text.

A reviewer's label records the guideline version it was given under, so that labels
given under old guidelines can be told apart.  A version is added only when the text
changes, under a lock on the model's row, so two processes never number two versions
alike.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from shipyard.errors import RecordNotFound
from shipyard.store.database import Database
from shipyard.store.records import GuidelineRecord
from shipyard.store.registry import ModelRepository
from shipyard.store.tables import GuidelineRow, utcnow

__all__ = ["GuidelineRepository"]


class GuidelineRepository:
    """Stores and reads the labelling guidelines of one project's models."""

    def __init__(self, database: Database, project_id: int, models: ModelRepository) -> None:
        self.database = database
        self.project_id = project_id
        self.models = models

    def record(self, model: str, text: str, *, author: str) -> GuidelineRecord:
        """The version of ``model``'s guidelines holding ``text``: the latest if its text
        is the same, else a new version."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.database.writing(f"recording the guidelines of '{model}'") as session:
            model_row = self.models.model_row(session, model, lock=True)
            latest = session.scalar(
                select(GuidelineRow)
                .where(GuidelineRow.model_id == model_row.id)
                .order_by(GuidelineRow.version.desc())
                .limit(1)
            )
            if latest is not None and latest.digest == digest:
                return _record(model, latest)
            row = GuidelineRow(
                model_id=model_row.id,
                version=1 if latest is None else latest.version + 1,
                text=text,
                digest=digest,
                author=author,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _record(model, row)

    def latest(self, model: str) -> GuidelineRecord | None:
        """The newest version of ``model``'s guidelines, or None if none was recorded."""
        history = self._versions(model, newest_only=True)
        return history[0] if history else None

    def history(self, model: str) -> list[GuidelineRecord]:
        """Every version of ``model``'s guidelines, oldest first."""
        return self._versions(model, newest_only=False)

    def version(self, model: str, version: int) -> GuidelineRecord:
        """Version ``version`` of ``model``'s guidelines; ``RecordNotFound`` if none."""
        with self.database.reading(f"reading guidelines v{version} of '{model}'") as session:
            model_row = self.models.model_row(session, model)
            row = session.scalar(
                select(GuidelineRow).where(
                    GuidelineRow.model_id == model_row.id, GuidelineRow.version == version
                )
            )
            if row is None:
                raise RecordNotFound(
                    f"model '{model}' has no guidelines version {version}; "
                    "`shipyard review guidelines` lists its versions"
                )
            return _record(model, row)

    def _versions(self, model: str, *, newest_only: bool) -> list[GuidelineRecord]:
        with self.database.reading(f"reading the guidelines of '{model}'") as session:
            model_row = self.models.model_row(session, model)
            query = select(GuidelineRow).where(GuidelineRow.model_id == model_row.id)
            if newest_only:
                query = query.order_by(GuidelineRow.version.desc()).limit(1)
            else:
                query = query.order_by(GuidelineRow.version)
            return [_record(model, row) for row in session.scalars(query)]


def _record(model: str, row: GuidelineRow) -> GuidelineRecord:
    return GuidelineRecord(
        model=model,
        version=row.version,
        text=row.text,
        digest=row.digest,
        author=row.author,
        created_at=row.created_at,
    )
