"""Deployment records: the rollout of a candidate beside a model's primary, its history,
the requests each arm answered, and the lease of the analysis acting on it.

The rules (which version may be deployed, what promote and rollback mean) live in
``shipyard.deployments``; this module stores and reads.  Every change is made under a
lock on the model's row, bumps the deployment's ``revision`` and adds an event, in one
transaction; ``expected_revision`` makes a change conditional on nothing else having
changed the deployment since it was read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shipyard.errors import DeploymentConflict, NoDeployment
from shipyard.store.database import Database
from shipyard.store.records import (
    AliasEventRecord,
    ArmCounts,
    DeploymentEventRecord,
    DeploymentRecord,
)
from shipyard.store.registry import ModelRepository
from shipyard.store.tables import (
    AliasEventRow,
    DeploymentArmCountRow,
    DeploymentEventRow,
    DeploymentRow,
    RegisteredModelRow,
    utcnow,
)

__all__ = ["DeploymentChange", "DeploymentRepository"]

# A change: given the session and the locked row, update the row; return the action
# and the details the event records.
DeploymentChange = Callable[[Session, DeploymentRow], tuple[str, dict[str, Any]]]


class DeploymentRepository:
    """Stores and reads the deployments of one project."""

    def __init__(self, database: Database, project_id: int, models: ModelRepository) -> None:
        self.database = database
        self.project_id = project_id
        self.models = models

    # -- reading --------------------------------------------------------------------

    def _record(self, name: str, row: DeploymentRow) -> DeploymentRecord:
        return DeploymentRecord(
            id=row.id,
            model=name,
            primary_version=row.primary_version,
            candidate_version=row.candidate_version,
            strategy=row.strategy,  # type: ignore[arg-type]
            percent=row.percent,
            sticky_key=row.sticky_key,
            live=row.live,  # type: ignore[arg-type]
            status=row.status,  # type: ignore[arg-type]
            analysis=row.analysis,
            next_analysis_at=row.next_analysis_at,
            lease_owner=row.lease_owner,
            lease_until=row.lease_until,
            revision=row.revision,
            created_at=row.created_at,
            ended_at=row.ended_at,
        )

    def _active_row(self, session: Session, model_id: int) -> DeploymentRow | None:
        return session.scalar(
            select(DeploymentRow).where(
                DeploymentRow.model_id == model_id, DeploymentRow.status == "active"
            )
        )

    def active(self, name: str | None = None) -> list[DeploymentRecord]:
        """The active deployment of every model (or of model ``name``)."""
        with self.database.reading("reading active deployments") as session:
            query = (
                select(RegisteredModelRow.name, DeploymentRow)
                .join(DeploymentRow, DeploymentRow.model_id == RegisteredModelRow.id)
                .where(
                    RegisteredModelRow.project_id == self.project_id,
                    DeploymentRow.status == "active",
                )
                .order_by(RegisteredModelRow.name)
            )
            if name is not None:
                self.models.model_row(session, name)  # unknown names are an error
                query = query.where(RegisteredModelRow.name == name)
            return [self._record(model, row) for model, row in session.execute(query)]

    def get(self, deployment_id: int) -> DeploymentRecord | None:
        with self.database.reading(f"reading deployment {deployment_id}") as session:
            found = session.execute(
                select(RegisteredModelRow.name, DeploymentRow)
                .join(DeploymentRow, DeploymentRow.model_id == RegisteredModelRow.id)
                .where(
                    RegisteredModelRow.project_id == self.project_id,
                    DeploymentRow.id == deployment_id,
                )
            ).first()
            return None if found is None else self._record(found[0], found[1])

    def deployments(self, name: str) -> list[DeploymentRecord]:
        """Every deployment of model ``name``, newest first."""
        with self.database.reading(f"reading the deployments of '{name}'") as session:
            model = self.models.model_row(session, name)
            rows = session.scalars(
                select(DeploymentRow)
                .where(DeploymentRow.model_id == model.id)
                .order_by(DeploymentRow.id.desc())
            )
            return [self._record(name, row) for row in rows]

    def history(self, name: str) -> list[DeploymentEventRecord]:
        """Every change of model ``name``'s deployments, oldest first."""
        with self.database.reading(f"reading the deployment history of '{name}'") as session:
            model = self.models.model_row(session, name)
            rows = session.scalars(
                select(DeploymentEventRow)
                .where(DeploymentEventRow.model_id == model.id)
                .order_by(DeploymentEventRow.id)
            )
            return [_event_record(name, row) for row in rows]

    def change_marker(self) -> tuple[int, int]:
        """The newest deployment event and alias move of the project: a server compares
        this pair with the one it last saw to learn, cheaply, that serving changed."""
        with self.database.reading("looking for deployment changes") as session:
            models = select(RegisteredModelRow.id).where(
                RegisteredModelRow.project_id == self.project_id
            )
            deployment = session.scalar(
                select(func.max(DeploymentEventRow.id)).where(
                    DeploymentEventRow.model_id.in_(models)
                )
            )
            alias = session.scalar(
                select(func.max(AliasEventRow.id)).where(AliasEventRow.model_id.in_(models))
            )
            return deployment or 0, alias or 0

    # -- changing -------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        candidate_version: int,
        strategy: str,
        percent: float,
        sticky_key: str | None,
        analysis: Mapping[str, Any] | None,
        next_analysis_at: datetime | None,
        actor: str,
        reason: str,
        details: Mapping[str, Any],
        check: Callable[[DeploymentRecord | None, int | None], int],
    ) -> DeploymentRecord:
        """Start a deployment of ``name``.  ``check`` sees the active deployment and the
        production version as they are under the lock, and raises to refuse or returns
        the primary version."""
        with self.database.writing(f"deploying a candidate of '{name}'") as session:
            model = self.models.model_row(session, name, lock=True)
            current = self._active_row(session, model.id)
            production = self.models.alias_version(session, model.id, "production")
            primary_version = check(
                None if current is None else self._record(name, current), production
            )
            now = utcnow()
            row = DeploymentRow(
                model_id=model.id,
                primary_version=primary_version,
                candidate_version=candidate_version,
                strategy=strategy,
                percent=percent,
                sticky_key=sticky_key,
                live="primary",
                status="active",
                analysis=dict(analysis) if analysis is not None else None,
                next_analysis_at=next_analysis_at,
                revision=1,
                created_at=now,
            )
            session.add(row)
            session.flush()
            for arm in ("primary", "candidate", "primary.shadow", "candidate.shadow"):
                session.add(
                    DeploymentArmCountRow(deployment_id=row.id, arm=arm, requests=0, errors=0)
                )
            record = self._record(name, row)
            session.add(
                DeploymentEventRow(
                    deployment_id=row.id,
                    model_id=model.id,
                    action="deploy",
                    actor=actor,
                    reason=reason,
                    before=None,
                    after=record.state(),
                    details=dict(details),
                    created_at=now,
                )
            )
            return record

    def change(
        self,
        name: str,
        deployment_id: int | None,
        change: DeploymentChange,
        *,
        actor: str,
        reason: str,
        expected_revision: int | None = None,
    ) -> DeploymentRecord:
        """Apply ``change`` to deployment ``deployment_id`` of ``name`` (None: the active
        one) and record it; refused with ``DeploymentConflict`` if its revision moved."""
        with self.database.writing(f"changing the deployment of '{name}'") as session:
            model = self.models.model_row(session, name, lock=True)
            if deployment_id is None:
                row = self._active_row(session, model.id)
            else:
                row = session.get(DeploymentRow, deployment_id)
            if row is None or row.model_id != model.id:
                raise NoDeployment(
                    f"model '{name}' has no deployment to change; `shipyard deploy` starts one"
                )
            if expected_revision is not None and row.revision != expected_revision:
                raise DeploymentConflict(
                    f"the deployment of '{name}' changed meanwhile (revision {row.revision}, "
                    f"expected {expected_revision}); nothing was done"
                )
            before = self._record(name, row).state()
            action, details = change(session, row)
            row.revision += 1
            session.flush()
            record = self._record(name, row)
            session.add(
                DeploymentEventRow(
                    deployment_id=row.id,
                    model_id=model.id,
                    action=action,
                    actor=actor,
                    reason=reason,
                    before=before,
                    after=record.state(),
                    details=details,
                    created_at=utcnow(),
                )
            )
            return record

    def move_production(
        self, session: Session, row: DeploymentRow, version: int, *, actor: str, reason: str
    ) -> AliasEventRecord | None:
        """Point the model's ``production`` alias at ``version`` within a change."""
        model = session.get(RegisteredModelRow, row.model_id)
        assert model is not None, "a deployment's model is a foreign key"
        return self.models.move_alias_in(
            session, model, "production", version, actor=actor, reason=reason
        )

    # -- counts and leases ----------------------------------------------------------

    def add_counts(self, counts: Mapping[tuple[int, str], tuple[int, int]]) -> None:
        """Add requests and failures per (deployment id, arm), as a server saw them."""
        with self.database.writing("adding up the requests of deployment arms") as session:
            for (deployment_id, arm), (requests, errors) in sorted(counts.items()):
                session.execute(
                    update(DeploymentArmCountRow)
                    .where(
                        DeploymentArmCountRow.deployment_id == deployment_id,
                        DeploymentArmCountRow.arm == arm,
                    )
                    .values(
                        requests=DeploymentArmCountRow.requests + requests,
                        errors=DeploymentArmCountRow.errors + errors,
                    )
                )

    def counts(self, deployment_id: int) -> dict[str, ArmCounts]:
        with self.database.reading(f"reading the counts of deployment {deployment_id}") as session:
            rows = session.scalars(
                select(DeploymentArmCountRow).where(
                    DeploymentArmCountRow.deployment_id == deployment_id
                )
            )
            return {
                row.arm: ArmCounts(arm=row.arm, requests=row.requests, errors=row.errors)
                for row in rows
            }

    def take_lease(self, deployment_id: int, owner: str, seconds: float) -> bool:
        """Hold deployment ``deployment_id`` for ``seconds``: True if ``owner`` holds it
        now (it was free, expired, or already ``owner``'s), False if another holds it."""
        now = utcnow()
        with self.database.writing(f"leasing deployment {deployment_id}") as session:
            taken = session.execute(
                update(DeploymentRow)
                .where(
                    DeploymentRow.id == deployment_id,
                    DeploymentRow.status == "active",
                    (DeploymentRow.lease_owner.is_(None))
                    | (DeploymentRow.lease_owner == owner)
                    | (DeploymentRow.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def release_lease(self, deployment_id: int, owner: str) -> None:
        with self.database.writing(f"releasing deployment {deployment_id}") as session:
            session.execute(
                update(DeploymentRow)
                .where(DeploymentRow.id == deployment_id, DeploymentRow.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )


def _event_record(name: str, row: DeploymentEventRow) -> DeploymentEventRecord:
    return DeploymentEventRecord(
        id=row.id,
        deployment_id=row.deployment_id,
        model=name,
        action=row.action,
        actor=row.actor,
        reason=row.reason,
        before=row.before,
        after=row.after,
        details=row.details,
        created_at=row.created_at,
    )
