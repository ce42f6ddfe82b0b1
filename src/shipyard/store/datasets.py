"""Dataset versions: one row per distinct content of a named dataset.

An artifact that holds dataset versions (ExampleGen's examples: the source's, and the
labelled predictions added to training) lists their ids in its ``records.DATASETS_PROPERTY``
property; lineage reads it to show which versions a model learned from.
"""

from __future__ import annotations

from sqlalchemy import select, update

from shipyard.store.database import Database
from shipyard.store.reader import StoreReader
from shipyard.store.records import DatasetVersionRecord
from shipyard.store.tables import DatasetVersionRow, utcnow


def _record(row: DatasetVersionRow) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        id=row.id,
        name=row.name,
        digest=row.digest,
        source=row.source,
        rows=row.rows,
        columns=row.columns,
        examples_id=row.examples_id,
        statistics_id=row.statistics_id,
        run_id=row.run_id,
        created_at=row.created_at,
    )


class DatasetRepository:
    """Registers and finds dataset versions of one project."""

    def __init__(self, database: Database, project_id: int, reader: StoreReader) -> None:
        self.database = database
        self.project_id = project_id
        self.reader = reader

    def register(
        self,
        name: str,
        *,
        digest: str,
        source: str,
        rows: int,
        columns: int,
        examples_id: int,
        run_id: int | None,
    ) -> DatasetVersionRecord:
        """The version with this content, created on first sight (idempotent)."""
        with self.database.writing(f"registering a version of dataset '{name}'") as session:
            row = session.scalar(
                select(DatasetVersionRow).where(
                    DatasetVersionRow.project_id == self.project_id,
                    DatasetVersionRow.name == name,
                    DatasetVersionRow.digest == digest,
                )
            )
            if row is None:
                row = DatasetVersionRow(
                    project_id=self.project_id,
                    name=name,
                    digest=digest,
                    source=source,
                    rows=rows,
                    columns=columns,
                    examples_id=examples_id,
                    run_id=run_id,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
            return _record(row)

    def attach_statistics(self, version_id: int, statistics_id: int) -> None:
        with self.database.writing(f"linking statistics to dataset version {version_id}") as s:
            s.execute(
                update(DatasetVersionRow)
                .where(DatasetVersionRow.id == version_id)
                .values(statistics_id=statistics_id)
            )

    def list(self, name: str | None = None) -> list[DatasetVersionRecord]:
        """Versions, newest first."""
        return self.reader.dataset_versions(name)

    def get(self, version_id: int) -> DatasetVersionRecord:
        return self.reader.dataset_version(version_id)

    def find(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of dataset ``name`` with this content, if registered."""
        return self.reader.find_dataset_version(name, digest)

    def previous(self, name: str, *, before_digest: str | None) -> DatasetVersionRecord | None:
        """The newest version of ``name`` whose content differs from ``before_digest``."""
        for record in self.list(name):
            if record.digest != before_digest:
                return record
        return None
