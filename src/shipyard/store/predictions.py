"""Prediction log records: compacted segments, the id index, spool sources and feedback.

The predictions themselves live in Parquet files in the artifact store (see
``shipyard.prediction_log``); this module keeps what is needed to find them:

* ``prediction_segments`` — one row per Parquet file (one model each), with its time range,
  so reads open only the files that can hold what they ask for;
* ``prediction_index`` — one row per compacted prediction id, so "does prediction X exist?"
  is one indexed query rather than a scan of every file;
* ``prediction_sources`` — the spool files already compacted, so compacting a file again
  after a crash (segments committed, file not yet deleted) adds nothing;
* ``feedback`` — the true label of a prediction, one per prediction id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shipyard.store.database import Database
from shipyard.store.reader import StoreReader
from shipyard.store.records import SegmentRecord, StoredOutput
from shipyard.store.tables import (
    ArtifactRow,
    FeedbackRow,
    PredictionIndexRow,
    PredictionSegmentRow,
    PredictionSourceRow,
    utcnow,
)

SEGMENT_TYPE = "PredictionSegment"
_CHUNK = 500  # ids per IN (...) query: far below every backend's parameter limit


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


@dataclass(frozen=True)
class NewSegment:
    """A Parquet file of one model's predictions, stored and waiting to be registered."""

    artifact: StoredOutput
    model: str
    rows: int
    min_time: datetime
    max_time: datetime
    prediction_ids: frozenset[str]


@dataclass(frozen=True)
class FeedbackRecord:
    """The label given for a prediction; ``replaced`` says an earlier label was overwritten.

    ``source`` says where it came from: ``api`` (``POST /feedback``), or how the review
    queue resolved the item (``single``, ``agreed``, ``adjudicated``).
    """

    prediction_id: str
    label: Any
    received_at: datetime
    source: str = "api"
    replaced: bool = False


def upsert_feedback(
    session: Session,
    project_id: int,
    labels: Mapping[str, Any],
    *,
    source: str,
    now: datetime,
) -> None:
    """Store labels by prediction id within ``session``, replacing earlier ones."""
    rows = [
        {
            "project_id": project_id,
            "prediction_id": prediction_id,
            "label": label,
            "received_at": now,
            "source": source,
        }
        for prediction_id, label in labels.items()
    ]
    if not rows:
        return
    # An upsert, so that two labels arriving at once cannot both insert.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(FeedbackRow)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "prediction_id"],
            set_={
                "label": statement.excluded.label,
                "received_at": statement.excluded.received_at,
                "source": statement.excluded.source,
            },
        ),
        rows,
    )


def _index_predictions(session: Session, segment_id: int, ids: Sequence[str]) -> None:
    """Record that segment ``segment_id`` holds ``ids``: the driver's executemany with
    plain tuples, since a segment adds up to hundreds of thousands of rows and building
    them through SQLAlchemy took half of compaction's time in the database."""
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    table = PredictionIndexRow.__tablename__
    connection.exec_driver_sql(
        f"INSERT INTO {table} (prediction_id, segment_id) VALUES ({marker}, {marker})",
        [(prediction_id, segment_id) for prediction_id in ids],
    )


class PredictionRepository:
    """Stores and reads the prediction log's metadata of one project."""

    def __init__(self, database: Database, project_id: int, reader: StoreReader) -> None:
        self.database = database
        self.project_id = project_id
        self.reader = reader

    # -- segments -------------------------------------------------------------------

    def compacted_sources(self, names: Iterable[str]) -> set[str]:
        """The spool files among ``names`` whose predictions are already in segments."""
        wanted = sorted(set(names))
        found: set[str] = set()
        with self.database.reading("looking up compacted spool files") as session:
            for chunk in _chunks(wanted):
                found.update(
                    session.scalars(
                        select(PredictionSourceRow.name).where(
                            PredictionSourceRow.project_id == self.project_id,
                            PredictionSourceRow.name.in_(chunk),
                        )
                    )
                )
        return found

    def register_segments(
        self, segments: Sequence[NewSegment], *, sources: Sequence[str]
    ) -> list[SegmentRecord]:
        """Record segments, their ids and the spool files they came from, all or nothing."""
        with self.database.writing("registering prediction log segments") as session:
            now = utcnow()
            records = []
            for segment in segments:
                artifact = self._artifact(session, segment.artifact, now)
                row = PredictionSegmentRow(
                    project_id=self.project_id,
                    artifact_id=artifact.id,
                    model=segment.model,
                    rows=segment.rows,
                    min_time=segment.min_time,
                    max_time=segment.max_time,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                if segment.prediction_ids:
                    _index_predictions(session, row.id, sorted(segment.prediction_ids))
                records.append(_segment_record(row, artifact))
            session.add_all(
                PredictionSourceRow(project_id=self.project_id, name=name, compacted_at=now)
                for name in sources
            )
            return records

    def _artifact(self, session: Session, stored: StoredOutput, now: datetime) -> ArtifactRow:
        row = session.scalar(
            select(ArtifactRow).where(
                ArtifactRow.project_id == self.project_id,
                ArtifactRow.type_name == SEGMENT_TYPE,
                ArtifactRow.digest == stored.digest,
            )
        )
        if row is None:
            row = ArtifactRow(
                project_id=self.project_id,
                type_name=SEGMENT_TYPE,
                digest=stored.digest,
                kind=stored.kind,
                size=stored.size,
                uri=stored.uri,
                created_at=now,
            )
            session.add(row)
            session.flush()
        return row

    def segments(
        self,
        *,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SegmentRecord]:
        """Segments that may hold predictions in ``[since, until)``, newest first."""
        return self.reader.prediction_segments(model=model, since=since, until=until)

    def known_ids(self, prediction_ids: Iterable[str]) -> set[str]:
        """The ids among ``prediction_ids`` that are in a compacted segment."""
        wanted = sorted(set(prediction_ids))
        found: set[str] = set()
        with self.database.reading("looking up prediction ids") as session:
            for chunk in _chunks(wanted):
                found.update(
                    session.scalars(
                        select(PredictionIndexRow.prediction_id)
                        .join(
                            PredictionSegmentRow,
                            PredictionSegmentRow.id == PredictionIndexRow.segment_id,
                        )
                        .where(
                            PredictionSegmentRow.project_id == self.project_id,
                            PredictionIndexRow.prediction_id.in_(chunk),
                        )
                    )
                )
        return found

    def segment_of(self, prediction_id: str) -> SegmentRecord | None:
        """The compacted segment holding ``prediction_id``, or ``None`` if none does."""
        query = (
            select(PredictionSegmentRow, ArtifactRow)
            .join(PredictionIndexRow, PredictionIndexRow.segment_id == PredictionSegmentRow.id)
            .join(ArtifactRow, ArtifactRow.id == PredictionSegmentRow.artifact_id)
            .where(
                PredictionSegmentRow.project_id == self.project_id,
                PredictionIndexRow.prediction_id == prediction_id,
            )
            .limit(1)
        )
        with self.database.reading(f"looking up prediction {prediction_id}") as session:
            found = session.execute(query).first()
        return None if found is None else _segment_record(*found)

    # -- feedback -------------------------------------------------------------------

    def save_feedback(
        self, labels: Mapping[str, Any], *, source: str = "api"
    ) -> list[FeedbackRecord]:
        """Store labels by prediction id, replacing earlier ones, in one transaction.

        ``source`` says who gave them: ``api`` for ``POST /feedback``; the review queue
        writes its labels itself, with how each item was resolved.  The caller checks
        that the predictions exist (they may still be in a spool file, which the
        database does not know).
        """
        ids = list(labels)
        with self.database.writing(f"recording feedback for {len(ids)} predictions") as session:
            earlier: set[str] = set()
            for chunk in _chunks(ids):
                earlier.update(
                    session.scalars(
                        select(FeedbackRow.prediction_id).where(
                            FeedbackRow.project_id == self.project_id,
                            FeedbackRow.prediction_id.in_(chunk),
                        )
                    )
                )
            now = utcnow()
            upsert_feedback(session, self.project_id, labels, source=source, now=now)
            return [
                FeedbackRecord(
                    prediction_id=prediction_id,
                    label=label,
                    received_at=now,
                    source=source,
                    replaced=prediction_id in earlier,
                )
                for prediction_id, label in labels.items()
            ]

    def feedback(
        self,
        *,
        prediction_ids: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> list[FeedbackRecord]:
        """Stored labels, of the given predictions or of all, received at or after ``since``."""
        # Columns, not ORM objects: a comparison reads tens of thousands of labels, and
        # building an instance per row cost four times the query.
        query = select(
            FeedbackRow.prediction_id,
            FeedbackRow.label,
            FeedbackRow.received_at,
            FeedbackRow.source,
        )
        query = query.where(FeedbackRow.project_id == self.project_id)
        if since is not None:
            query = query.where(FeedbackRow.received_at >= since)
        with self.database.reading("reading feedback") as session:
            if prediction_ids is None:
                rows = list(session.execute(query.order_by(FeedbackRow.id)))
            else:
                rows = []
                for chunk in _chunks(sorted(set(prediction_ids))):
                    rows.extend(session.execute(query.where(FeedbackRow.prediction_id.in_(chunk))))
            return [
                FeedbackRecord(
                    prediction_id=found, label=label, received_at=received, source=source
                )
                for found, label, received, source in rows
            ]


def _segment_record(row: PredictionSegmentRow, artifact: ArtifactRow) -> SegmentRecord:
    return SegmentRecord(
        id=row.id,
        model=row.model,
        rows=row.rows,
        min_time=row.min_time,
        max_time=row.max_time,
        artifact_id=artifact.id,
        digest=artifact.digest,
        created_at=row.created_at,
    )
