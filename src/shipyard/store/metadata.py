"""The metadata store: runs, executions, artifacts, lineage events and properties.

Every method is one transaction, so a record is either fully written or absent: a step's
outputs, their artifacts and the events linking them are committed together with the
step's final status.

Runs, executions, artifacts and events stay in this one module because they are written
together, in those single transactions; the other records each have a repository of their
own (``datasets``, ``registry``, ``predictions``, ``deployments``, ``review``,
``automation``, ``guidelines``, ``monitoring``, ``loop``, ``tracking``).
"""

from __future__ import annotations

import os
import socket
import typing
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from shipyard.errors import RecordNotFound, StoreConflict
from shipyard.store.database import Database
from shipyard.store.datasets import DatasetRepository
from shipyard.store.properties import set_properties
from shipyard.store.reader import INPUT, OUTPUT, StoreReader, pid_alive
from shipyard.store.records import (
    ArtifactRecord,
    ExecutionRecord,
    FinishedRun,
    RunKind,
    RunRecord,
    StoredOutput,
)
from shipyard.store.registry import ModelRepository
from shipyard.store.tables import (
    ArtifactRow,
    EventRow,
    ExecutionRow,
    ProjectRow,
    RunMetricRow,
    RunParamRow,
    RunRow,
    StepClaimRow,
    utcnow,
)
from shipyard.store.tracking import TrackingRepository

if typing.TYPE_CHECKING:
    from shipyard.store.automation import AutomationRepository
    from shipyard.store.deployments import DeploymentRepository
    from shipyard.store.guidelines import GuidelineRepository
    from shipyard.store.loop import LoopRepository
    from shipyard.store.monitoring import MonitoringRepository
    from shipyard.store.predictions import PredictionRepository
    from shipyard.store.review import ReviewRepository

__all__ = ["INPUT", "OUTPUT", "MetadataStore"]


class MetadataStore:
    """Records of one project in a SQLite or PostgreSQL database.

    Runs, executions, artifacts and lineage events are read and written here; every other
    concern has a repository of its own: ``datasets`` (``DatasetRepository``), ``models``
    (``ModelRepository``), ``predictions`` (``PredictionRepository``), ``deployments``
    (``DeploymentRepository``), ``review`` (``ReviewRepository``), ``automation``
    (``AutomationRepository``), ``guidelines`` (``GuidelineRepository``), ``monitoring``
    (``MonitoringRepository``), ``loop`` (``LoopRepository``) and ``tracking``
    (``TrackingRepository``).

    >>> store = MetadataStore("sqlite:///.shipyard/metadata.db", root=tmp, project="demo")
    ... # doctest: +SKIP
    """

    def __init__(self, url: str, *, root: Path, project: str) -> None:
        self.database = Database(url, root=root)
        self.database.migrate()
        self.project = project
        self.project_id = self._ensure_project(project)
        self.reader = StoreReader(
            self.database.raw_connection,
            dialect=self.database.dialect,
            errors=self.database.engine.dialect.loaded_dbapi.Error,
            project=project,
            project_id=self.project_id,
        )
        self.datasets = DatasetRepository(self.database, self.project_id, self.reader)
        self.tracking = TrackingRepository(self.database, self.reader)
        self.models = ModelRepository(self.database, self.project_id, self.reader)

    # The repositories of what serving and monitoring record are made on first use: their
    # modules (and the settings' models some of them check against) would add a quarter
    # of a second to every command that opens the store, ``shipyard run`` included.

    @cached_property
    def predictions(self) -> PredictionRepository:
        from shipyard.store.predictions import PredictionRepository

        return PredictionRepository(self.database, self.project_id, self.reader)

    @cached_property
    def deployments(self) -> DeploymentRepository:
        from shipyard.store.deployments import DeploymentRepository

        return DeploymentRepository(self.database, self.project_id, self.models)

    @cached_property
    def review(self) -> ReviewRepository:
        from shipyard.store.review import ReviewRepository

        return ReviewRepository(self.database, self.project_id)

    @cached_property
    def automation(self) -> AutomationRepository:
        from shipyard.store.automation import AutomationRepository

        return AutomationRepository(self.database, self.project_id, self.models)

    @cached_property
    def guidelines(self) -> GuidelineRepository:
        from shipyard.store.guidelines import GuidelineRepository

        return GuidelineRepository(self.database, self.project_id, self.models)

    @cached_property
    def monitoring(self) -> MonitoringRepository:
        from shipyard.store.monitoring import MonitoringRepository

        return MonitoringRepository(self.database, self.project_id)

    @cached_property
    def loop(self) -> LoopRepository:
        from shipyard.store.loop import LoopRepository

        return LoopRepository(self.database, self.project_id)

    def close(self) -> None:
        self.database.dispose()

    def _ensure_project(self, name: str) -> int:
        for _ in range(2):
            with self.database.reading("looking up the project") as session:
                found = session.scalar(select(ProjectRow.id).where(ProjectRow.name == name))
            if found is not None:
                return found
            try:
                with self.database.writing(f"creating project '{name}'") as session:
                    row = ProjectRow(name=name, created_at=utcnow())
                    session.add(row)
                    session.flush()
                    return row.id
            except StoreConflict:
                # Another process opening the same new store made it first (PostgreSQL
                # lets both look before either writes): read theirs.
                continue
        raise StoreConflict(f"project '{name}' could not be created nor found")

    # -- runs -----------------------------------------------------------------------

    def start_run(
        self,
        pipeline: str,
        *,
        params: Mapping[str, Any],
        code_version: str | None,
        code_dirty: bool | None,
        environment: Mapping[str, Any],
        kind: RunKind = "pipeline",
        experiment: str | None = None,
        name: str | None = None,
        parent_id: int | None = None,
    ) -> RunRecord:
        """Record a run that starts now, in this process; a pipeline run's experiment is
        its pipeline's name unless given, a nested run's its parent's."""
        with self.database.writing(f"starting a run of '{name or pipeline}'") as session:
            if parent_id is not None:
                parent = session.get(RunRow, parent_id)
                if parent is None or parent.project_id != self.project_id:
                    raise RecordNotFound(f"run {parent_id} does not exist to nest a run under")
                experiment = experiment or parent.experiment
            row = RunRow(
                project_id=self.project_id,
                pipeline=pipeline,
                kind=kind,
                experiment=experiment or pipeline or None,
                name=name,
                parent_id=parent_id,
                status="running",
                started_at=utcnow(),
                params=dict(params),
                code_version=code_version,
                code_dirty=code_dirty,
                environment=dict(environment),
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(row)
            session.flush()
            return self._run_record(row)

    def finish_run(self, run_id: int, *, status: str, error: str | None = None) -> None:
        with self.database.writing(f"finishing run {run_id}") as session:
            session.execute(
                update(RunRow)
                .where(RunRow.id == run_id)
                .values(status=status, error=error, finished_at=utcnow())
            )

    def mark_crashed_runs(self) -> list[int]:
        """Mark runs of this host whose runner process died as ``crashed``."""
        dead = self.reader.abandoned_runs()
        if dead:
            self.abort_runs(dead, status="crashed", error="the runner process died")
        return dead

    def abort_runs(self, run_ids: list[int], *, status: str, error: str) -> None:
        """End unfinished runs and their running steps with ``status`` and ``error``."""
        with self.database.writing("ending unfinished runs") as session:
            now = utcnow()
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(run_ids), RunRow.status == "running")
                .values(status=status, error=error, finished_at=now)
            )
            session.execute(
                update(ExecutionRow)
                .where(ExecutionRow.run_id.in_(run_ids), ExecutionRow.status == "running")
                .values(status="failed", error=error, finished_at=now)
            )
            session.execute(delete(StepClaimRow).where(StepClaimRow.run_id.in_(run_ids)))

    def record_runs(self, runs: Sequence[FinishedRun]) -> list[int]:
        """Record runs that already ended, with their steps, lineage events and what the
        steps logged, all in one transaction; return the runs' ids in order.

        For importing history in bulk: a run at a time through ``start_run`` and the
        step calls costs a transaction per step, this one per call.
        """
        if not runs:
            return []
        with self.database.writing(f"recording {len(runs)} finished runs") as session:
            run_rows = [
                RunRow(
                    project_id=self.project_id,
                    pipeline=run.pipeline,
                    kind=run.kind,
                    experiment=run.experiment or run.pipeline or None,
                    name=run.name,
                    parent_id=run.parent_id,
                    status=run.status,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    params=dict(run.params),
                    code_version=run.code_version,
                    code_dirty=run.code_dirty,
                    environment=dict(run.environment),
                    host=run.host,
                    pid=0,
                    error=run.error,
                )
                for run in runs
            ]
            session.add_all(run_rows)
            session.flush()
            steps = [(row.id, step) for row, run in zip(run_rows, runs, strict=True)
                     for step in run.steps]  # fmt: skip
            step_rows = [
                ExecutionRow(
                    run_id=run_id,
                    step=step.step,
                    component=step.component,
                    fingerprint=step.fingerprint,
                    status=step.status,
                    params=dict(step.params),
                    attempts=step.attempts,
                    started_at=step.started_at,
                    finished_at=step.finished_at,
                    error=step.error,
                    traceback=step.traceback,
                )
                for run_id, step in steps
            ]
            session.add_all(step_rows)
            session.flush()
            events: list[dict[str, Any]] = []
            params: list[dict[str, Any]] = []
            metrics: list[dict[str, Any]] = []
            for row, (run_id, step) in zip(step_rows, steps, strict=True):
                for direction, ports in ((INPUT, step.inputs), (OUTPUT, step.outputs)):
                    events.extend(
                        {"execution_id": row.id, "artifact_id": artifact_id,
                         "direction": direction, "port": port}
                        for port, artifact_id in ports.items()
                    )  # fmt: skip
                params.extend(
                    {"run_id": run_id, "execution_id": row.id, "key": key, "value": value}
                    for key, value in step.logged_params.items()
                )
                metrics.extend(
                    {"run_id": run_id, "execution_id": row.id, "key": key,
                     "value": float(value), "step": index, "recorded_at": step.finished_at}
                    for key, value, index in step.logged_metrics
                )  # fmt: skip
            for run_row, run in zip(run_rows, runs, strict=True):
                params.extend(
                    {"run_id": run_row.id, "execution_id": None, "key": key, "value": value}
                    for key, value in run.logged_params.items()
                )
                metrics.extend(
                    {"run_id": run_row.id, "execution_id": None, "key": key,
                     "value": float(value), "step": index, "recorded_at": run.finished_at}
                    for key, value, index in run.logged_metrics
                )  # fmt: skip
            for table, rows in ((EventRow, events), (RunParamRow, params), (RunMetricRow, metrics)):
                if rows:
                    session.execute(insert(table), rows)
            return [row.id for row in run_rows]

    # -- step claims ----------------------------------------------------------------

    def claim_step(self, fingerprint: str, run_id: int) -> bool:
        """Claim the execution of the step with ``fingerprint`` for ``run_id``.

        False while another run holds the claim and is alive (its status is ``running``
        and, on this host, its runner process exists); a claim of a finished or dead run
        is taken over.  The claim is one row per fingerprint, so of two runners racing
        for it exactly one wins, on SQLite and PostgreSQL alike.
        """
        for _ in range(3):  # the holder may release between our insert and our look
            try:
                with self.database.writing("claiming a step") as session:
                    session.add(
                        StepClaimRow(
                            project_id=self.project_id,
                            fingerprint=fingerprint,
                            run_id=run_id,
                            claimed_at=utcnow(),
                        )
                    )
                return True
            except StoreConflict:
                pass
            with self.database.reading("looking up a step's claim") as session:
                holder = session.execute(
                    select(RunRow.id, RunRow.status, RunRow.host, RunRow.pid)
                    .join(StepClaimRow, StepClaimRow.run_id == RunRow.id)
                    .where(
                        StepClaimRow.project_id == self.project_id,
                        StepClaimRow.fingerprint == fingerprint,
                    )
                ).first()
            if holder is None:
                continue
            holder_id, status, host, pid = holder
            if holder_id == run_id:
                return True
            if status == "running" and (host != socket.gethostname() or pid_alive(pid)):
                return False
            with self.database.writing("taking over a step's claim") as session:
                taken = session.execute(
                    update(StepClaimRow)
                    .where(
                        StepClaimRow.project_id == self.project_id,
                        StepClaimRow.fingerprint == fingerprint,
                        StepClaimRow.run_id == holder_id,
                    )
                    .values(run_id=run_id, claimed_at=utcnow())
                )
            return bool(taken.rowcount)  # type: ignore[attr-defined]
        return False

    def release_steps(self, run_id: int, fingerprint: str | None = None) -> None:
        """Release the claim of ``run_id`` on ``fingerprint`` (on every step if None)."""
        query = delete(StepClaimRow).where(
            StepClaimRow.project_id == self.project_id, StepClaimRow.run_id == run_id
        )
        if fingerprint is not None:
            query = query.where(StepClaimRow.fingerprint == fingerprint)
        with self.database.writing("releasing step claims") as session:
            session.execute(query)

    def get_run(self, run_id: int) -> RunRecord:
        return self.reader.get_run(run_id)

    def list_runs(
        self,
        *,
        limit: int = 50,
        pipeline: str | None = None,
        status: str | None = None,
        offset: int = 0,
        experiment: str | None = None,
        parent_id: int | None = None,
        nested: bool = False,
    ) -> list[RunRecord]:
        """Runs newest first: ``StoreReader.list_runs``."""
        return self.reader.list_runs(
            limit=limit,
            pipeline=pipeline,
            status=status,
            offset=offset,
            experiment=experiment,
            parent_id=parent_id,
            nested=nested,
        )

    def _run_record(self, row: RunRow) -> RunRecord:
        return RunRecord(
            id=row.id,
            project=self.project,
            pipeline=row.pipeline,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            params=row.params,
            code_version=row.code_version,
            code_dirty=row.code_dirty,
            environment=row.environment,
            host=row.host,
            pid=row.pid,
            error=row.error,
            kind=typing.cast(RunKind, row.kind),
            experiment=row.experiment,
            name=row.name,
            parent_id=row.parent_id,
        )

    # -- executions -----------------------------------------------------------------

    def start_execution(
        self,
        run_id: int,
        *,
        step: str,
        component: str,
        fingerprint: str | None,
        params: Mapping[str, Any],
        inputs: Mapping[str, int],
        status: str = "running",
        cached_from_id: int | None = None,
        outputs: Mapping[str, int] | None = None,
    ) -> int:
        """Record a step starting (or, with ``status='cached'``, a whole cache hit)."""
        now = utcnow()
        finished = status in ("cached", "skipped")
        with self.database.writing(f"recording step '{step}'") as session:
            row = ExecutionRow(
                run_id=run_id,
                step=step,
                component=component,
                fingerprint=fingerprint,
                status=status,
                cached_from_id=cached_from_id,
                params=dict(params),
                attempts=0,
                started_at=now,
                finished_at=now if finished else None,
            )
            session.add(row)
            session.flush()
            self._add_events(session, row.id, INPUT, inputs)
            self._add_events(session, row.id, OUTPUT, outputs or {})
            return row.id

    def finish_execution(
        self,
        execution_id: int,
        *,
        status: str,
        attempts: int,
        outputs: Mapping[str, StoredOutput] | None = None,
        error: str | None = None,
        traceback: str | None = None,
    ) -> dict[str, ArtifactRecord]:
        """Record a step's end; its outputs are registered in the same transaction."""
        with self.database.writing(f"finishing execution {execution_id}") as session:
            registered = {
                port: self._register_artifact(session, output)
                for port, output in (outputs or {}).items()
            }
            self._add_events(
                session, execution_id, OUTPUT, {port: row.id for port, row in registered.items()}
            )
            session.execute(
                update(ExecutionRow)
                .where(ExecutionRow.id == execution_id)
                .values(
                    status=status,
                    attempts=attempts,
                    error=error,
                    traceback=traceback,
                    finished_at=utcnow(),
                )
            )
            records = {}
            for port, row in registered.items():
                properties = (outputs or {})[port].properties
                set_properties(session, "artifact", row.id, properties)
                records[port] = self._artifact_record(row, dict(properties))
            return records

    def _register_artifact(self, session: Session, output: StoredOutput) -> ArtifactRow:
        existing = session.scalar(
            select(ArtifactRow).where(
                ArtifactRow.project_id == self.project_id,
                ArtifactRow.type_name == output.type_name,
                ArtifactRow.digest == output.digest,
            )
        )
        if existing is not None:
            return existing
        row = ArtifactRow(
            project_id=self.project_id,
            type_name=output.type_name,
            digest=output.digest,
            kind=output.kind,
            size=output.size,
            uri=output.uri,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _add_events(
        session: Session, execution_id: int, direction: str, artifacts: Mapping[str, int]
    ) -> None:
        session.add_all(
            EventRow(
                execution_id=execution_id, artifact_id=artifact_id, direction=direction, port=port
            )
            for port, artifact_id in artifacts.items()
        )

    def find_cached(self, fingerprint: str) -> list[ExecutionRecord]:
        """Earlier successful executions with this fingerprint, newest first."""
        return self.reader.find_cached(fingerprint)

    def run_executions(self, run_id: int) -> list[ExecutionRecord]:
        return self.reader.run_executions(run_id)

    def get_executions(self, execution_ids: Iterable[int]) -> list[ExecutionRecord]:
        return self.reader.get_executions(execution_ids)

    # -- artifacts ------------------------------------------------------------------

    def get_artifact(self, artifact_id: int) -> ArtifactRecord:
        return self.reader.get_artifact(artifact_id)

    def find_artifacts(self, digest_prefix: str) -> list[ArtifactRecord]:
        """Artifacts whose digest starts with ``digest_prefix`` (at least 6 characters)."""
        return self.reader.find_artifacts(digest_prefix)

    def artifact_events(
        self, artifact_ids: Iterable[int], *, direction: str
    ) -> list[tuple[int, int, str]]:
        """``(execution_id, artifact_id, port)`` of events touching these artifacts."""
        return self.reader.artifact_events(artifact_ids, direction=direction)

    def first_producers(self, artifact_ids: Iterable[int]) -> dict[int, int]:
        """``StoreReader.first_producers``: who computed each artifact."""
        return self.reader.first_producers(artifact_ids)

    @staticmethod
    def _artifact_record(row: ArtifactRow, properties: dict[str, Any]) -> ArtifactRecord:
        return ArtifactRecord(
            id=row.id,
            type_name=row.type_name,
            digest=row.digest,
            kind=row.kind,
            size=row.size,
            uri=row.uri,
            created_at=row.created_at,
            properties=properties,
        )

    # -- properties -----------------------------------------------------------------

    def set_properties(self, owner: str, owner_id: int, values: Mapping[str, Any]) -> None:
        """Set key/value properties of a record (``owner`` is ``run``, ``artifact``...)."""
        with self.database.writing(f"setting properties of {owner} {owner_id}") as session:
            set_properties(session, owner, owner_id, values)

    def get_properties(self, owner: str, owner_id: int) -> dict[str, Any]:
        return self.reader.properties(owner, {owner_id}).get(owner_id, {})
