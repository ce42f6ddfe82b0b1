"""Registry records: models, numbered versions, movable aliases and their history.

The rules of promotion live in ``shipyard.registry``; this module only stores and reads.
Version numbers are allocated under a lock on the model's row, so two processes
registering at once get two different numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.errors import ModelNotFound
from shipyard.store.database import Database
from shipyard.store.properties import properties_of, set_properties
from shipyard.store.reader import StoreReader
from shipyard.store.records import (
    AliasEventRecord,
    ArtifactRecord,
    ModelRecord,
    ModelVersionRecord,
)
from shipyard.store.tables import (
    AliasEventRow,
    ArtifactRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    utcnow,
)

TAG_OWNER = "model_version"


class ModelRepository:
    """Stores and reads the registry of one project."""

    def __init__(self, database: Database, project_id: int, reader: StoreReader) -> None:
        self.database = database
        self.project_id = project_id
        self.reader = reader

    # -- models -----------------------------------------------------------------

    def model_row(self, session: Session, name: str, *, lock: bool = False) -> RegisteredModelRow:
        """The row of model ``name`` (locked for update with ``lock``); ModelNotFound if none."""
        query = select(RegisteredModelRow).where(
            RegisteredModelRow.project_id == self.project_id, RegisteredModelRow.name == name
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            known = session.scalars(
                select(RegisteredModelRow.name).where(
                    RegisteredModelRow.project_id == self.project_id
                )
            ).all()
            listing = ", ".join(sorted(known)) or "none yet"
            raise ModelNotFound(f"no model named '{name}'; registered models: {listing}")
        return row

    def list_models(self) -> list[ModelRecord]:
        return self.reader.list_models()

    def _aliases(self, session: Session, model_id: int) -> dict[str, int]:
        rows = session.execute(
            select(ModelAliasRow.alias, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
            .where(ModelAliasRow.model_id == model_id)
            .order_by(ModelAliasRow.alias)
        )
        return {alias: version for alias, version in rows}

    def alias_version(self, session: Session, model_id: int, alias: str) -> int | None:
        """The version ``alias`` of model ``model_id`` points at, or None."""
        return session.scalar(
            select(ModelVersionRow.version)
            .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
            .where(ModelAliasRow.model_id == model_id, ModelAliasRow.alias == alias)
        )

    # -- versions ---------------------------------------------------------------

    def register_version(
        self,
        name: str,
        *,
        package_id: int,
        run_id: int | None,
        dataset_version_id: int | None,
        blessed: bool,
        infra_validated: bool,
        metrics: Mapping[str, Any],
        reasons: Mapping[str, Any],
        code_version: str | None,
    ) -> ModelVersionRecord:
        """Add the next numbered version of model ``name`` (created on first use)."""
        with self.database.writing(f"registering a version of model '{name}'") as session:
            try:
                model = self.model_row(session, name, lock=True)
            except ModelNotFound:
                model = RegisteredModelRow(
                    project_id=self.project_id, name=name, created_at=utcnow()
                )
                session.add(model)
                session.flush()
            latest = session.scalar(
                select(func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.model_id == model.id
                )
            )
            row = ModelVersionRow(
                model_id=model.id,
                version=(latest or 0) + 1,
                package_id=package_id,
                run_id=run_id,
                dataset_version_id=dataset_version_id,
                blessed=blessed,
                infra_validated=infra_validated,
                metrics=dict(metrics),
                reasons=dict(reasons),
                code_version=code_version,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return self._version_record(session, model, row)

    def _version_record(
        self, session: Session, model: RegisteredModelRow, row: ModelVersionRow
    ) -> ModelVersionRecord:
        return self._version_records(session, model, [row])[0]

    def _version_records(
        self, session: Session, model: RegisteredModelRow, rows: Sequence[ModelVersionRow]
    ) -> list[ModelVersionRecord]:
        """Records of several versions of ``model`` in three queries, whatever their number."""
        packages = {
            package.id: package
            for package in session.scalars(
                select(ArtifactRow).where(ArtifactRow.id.in_({row.package_id for row in rows}))
            )
        }
        aliases = self._aliases(session, model.id)
        tags = properties_of(session, TAG_OWNER, {row.id for row in rows})
        return [
            ModelVersionRecord(
                id=row.id,
                model=model.name,
                version=row.version,
                package=_package_record(packages[row.package_id]),
                run_id=row.run_id,
                dataset_version_id=row.dataset_version_id,
                blessed=row.blessed,
                infra_validated=row.infra_validated,
                metrics=row.metrics,
                reasons=row.reasons,
                code_version=row.code_version,
                created_at=row.created_at,
                aliases=[alias for alias, version in aliases.items() if version == row.version],
                tags=tags.get(row.id, {}),
            )
            for row in rows
        ]

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[ModelVersionRecord]:
        """Versions of ``name``, newest first: all, or the ``limit`` newest below version
        ``before`` (a page of a long list; the next page starts below its last)."""
        with self.database.reading(f"listing versions of '{name}'") as session:
            model = self.model_row(session, name)
            query = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
            if before is not None:
                query = query.where(ModelVersionRow.version < before)
            query = query.order_by(ModelVersionRow.version.desc()).limit(limit)
            return self._version_records(session, model, session.scalars(query).all())

    @staticmethod
    def version_row(session: Session, model: RegisteredModelRow, version: int) -> ModelVersionRow:
        row = session.scalar(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id, ModelVersionRow.version == version
            )
        )
        if row is None:
            raise ModelNotFound(f"model '{model.name}' has no version {version}")
        return row

    def version(self, name: str, version: int) -> ModelVersionRecord:
        with self.database.reading(f"reading {name}:{version}") as session:
            model = self.model_row(session, name)
            row = self.version_row(session, model, version)
            return self._version_record(session, model, row)

    def by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        with self.database.reading(f"resolving {name}@{alias}") as session:
            model = self.model_row(session, name)
            row = session.scalar(
                select(ModelVersionRow)
                .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
                .where(ModelAliasRow.model_id == model.id, ModelAliasRow.alias == alias)
            )
            if row is None:
                aliases = ", ".join(self._aliases(session, model.id)) or "none"
                raise ModelNotFound(
                    f"model '{name}' has no alias '{alias}'; its aliases: {aliases}"
                )
            return self._version_record(session, model, row)

    def by_package(self, name: str, package_id: int) -> ModelVersionRecord | None:
        """The newest version of ``name`` registered with this package, if any."""
        with self.database.reading(f"looking up a package of '{name}'") as session:
            try:
                model = self.model_row(session, name)
            except ModelNotFound:
                return None
            row = session.scalar(
                select(ModelVersionRow)
                .where(
                    ModelVersionRow.model_id == model.id,
                    ModelVersionRow.package_id == package_id,
                )
                .order_by(ModelVersionRow.version.desc())
                .limit(1)
            )
            return None if row is None else self._version_record(session, model, row)

    # -- aliases and tags ---------------------------------------------------------

    def move_alias(
        self, name: str, alias: str, version: int, *, actor: str, reason: str
    ) -> AliasEventRecord | None:
        """Point ``alias`` at ``version``; returns the recorded move (None if no change)."""
        with self.database.writing(f"moving {name}@{alias} to version {version}") as session:
            model = self.model_row(session, name, lock=True)
            return self.move_alias_in(session, model, alias, version, actor=actor, reason=reason)

    def move_alias_in(
        self,
        session: Session,
        model: RegisteredModelRow,
        alias: str,
        version: int,
        *,
        actor: str,
        reason: str,
    ) -> AliasEventRecord | None:
        """``move_alias`` inside a caller's transaction, with the model's row locked."""
        target = self.version_row(session, model, version)
        current = session.scalar(
            select(ModelAliasRow).where(
                ModelAliasRow.model_id == model.id, ModelAliasRow.alias == alias
            )
        )
        previous = None
        if current is not None:
            if current.version_id == target.id:
                return None
            previous_row = session.get(ModelVersionRow, current.version_id)
            previous = previous_row.version if previous_row is not None else None
            current.version_id = target.id
            current.updated_at = utcnow()
        else:
            session.add(
                ModelAliasRow(
                    model_id=model.id, alias=alias, version_id=target.id, updated_at=utcnow()
                )
            )
        event = AliasEventRow(
            model_id=model.id,
            alias=alias,
            from_version=previous,
            to_version=version,
            actor=actor,
            reason=reason,
            created_at=utcnow(),
        )
        session.add(event)
        session.flush()
        return self._event_record(model.name, event)

    @staticmethod
    def _event_record(name: str, row: AliasEventRow) -> AliasEventRecord:
        return AliasEventRecord(
            model=name,
            alias=row.alias,
            from_version=row.from_version,
            to_version=row.to_version,
            actor=row.actor,
            reason=row.reason,
            created_at=row.created_at,
        )

    def alias_history(self, name: str) -> list[AliasEventRecord]:
        """Every alias move of ``name``, oldest first."""
        with self.database.reading(f"reading the alias history of '{name}'") as session:
            model = self.model_row(session, name)
            rows = session.scalars(
                select(AliasEventRow)
                .where(AliasEventRow.model_id == model.id)
                .order_by(AliasEventRow.id)
            )
            return [self._event_record(model.name, row) for row in rows]

    def set_tags(self, name: str, version: int, tags: Mapping[str, Any]) -> None:
        with self.database.writing(f"tagging {name}:{version}") as session:
            model = self.model_row(session, name)
            row = self.version_row(session, model, version)
            set_properties(session, TAG_OWNER, row.id, tags)


def _package_record(package: ArtifactRow) -> ArtifactRecord:
    return ArtifactRecord(
        id=package.id,
        type_name=package.type_name,
        digest=package.digest,
        kind=package.kind,
        size=package.size,
        uri=package.uri,
        created_at=package.created_at,
    )
