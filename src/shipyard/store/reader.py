"""Read-only queries of the metadata store over a plain DB-API connection.

Listing runs, models and dataset versions, and walking lineage, are plain SELECTs: they
need neither SQLAlchemy's ORM nor its SQL compiler, which take a command line longer to
import than the whole answer takes.  ``StoreReader`` holds these queries once.  The
``MetadataStore`` reads through it on a connection of its engine's pool; a command that
only reads opens it on its own (``StoreReader.open``), with the standard library's
``sqlite3`` or with psycopg, and never imports SQLAlchemy.

Values come back as the ORM gives them: SQLite's timestamps (text, UTC) become aware
datetimes, its JSON text and booleans (0/1) Python values; PostgreSQL's driver already
returns those.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, cast

from shipyard.errors import RecordNotFound, StoreError, StoreUnavailable
from shipyard.store.records import (
    ArtifactRecord,
    DatasetVersionRecord,
    ExecutionRecord,
    ModelRecord,
    RunKind,
    RunRecord,
    SegmentRecord,
)

INPUT = "input"
OUTPUT = "output"
SQLITE_BUSY_TIMEOUT_MS = 60_000

# A DB-API connection (sqlite3's, psycopg's, or SQLAlchemy's pooled proxy of either).
Connection = Any
Connect = Callable[[], AbstractContextManager[Connection]]

_RUN_COLUMNS = (
    "id, pipeline, status, started_at, finished_at, params, code_version, code_dirty, "
    "environment, host, pid, error, kind, experiment, name, parent_id, project_id"
)
_EXECUTION_COLUMNS = (
    "executions.id, executions.run_id, executions.step, executions.component, "
    "executions.fingerprint, executions.status, executions.cached_from_id, "
    "executions.params, executions.attempts, executions.started_at, "
    "executions.finished_at, executions.error, executions.traceback"
)
_ARTIFACT_COLUMNS = (
    "artifacts.id, artifacts.type_name, artifacts.digest, artifacts.kind, artifacts.size, "
    "artifacts.uri, artifacts.created_at"
)
_DATASET_COLUMNS = (
    'id, name, digest, source, "rows", "columns", examples_id, statistics_id, run_id, '
    "created_at, project_id"
)


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this version of shipyard.

    Revisions are numbered ``0001``, ``0002``... and named after their file's prefix, so
    the head is found without importing Alembic (a test holds the two to agreement).
    """
    versions = resources.files("shipyard.store") / "migrations" / "versions"
    numbers = [
        entry.name.partition("_")[0]
        for entry in versions.iterdir()
        if entry.name[:4].isdigit() and entry.name.endswith(".py")
    ]
    return max(numbers)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sqlite_path(url: str, root: Path) -> Path | None:
    """The file of a ``sqlite:///path`` URL (relative to ``root``), None for others."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    database = url.removeprefix(prefix)
    if database in ("", ":memory:"):
        return None
    path = Path(database)
    return path if path.is_absolute() else root / path


def _postgres_conninfo(url: str) -> str | None:
    """The libpq URI of a ``postgresql://`` (or ``+psycopg``) URL, None for others."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        return None
    return f"postgresql://{rest}"


def _when(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite keeps UTC timestamps as text without a zone
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return cast(datetime, value.replace(tzinfo=UTC))
    return cast(datetime, value)


def _maybe_when(value: Any) -> datetime | None:
    return None if value is None else _when(value)


def _json(value: Any) -> Any:
    # SQLite gives JSON back as text, except numbers, which its column affinity stores
    # as numbers; PostgreSQL's driver gives it parsed.
    return json.loads(value) if isinstance(value, str | bytes) else value


class StoreReader:
    """The read-only queries of one project's metadata.

    ``connect`` yields a DB-API connection for one read (and takes it back after);
    ``dialect`` is ``sqlite`` or ``postgresql``; ``errors`` the driver's exception base.
    """

    def __init__(
        self,
        connect: Connect,
        *,
        dialect: str,
        errors: type[Exception],
        project: str,
        project_id: int,
    ) -> None:
        self._connect = connect
        self.dialect = dialect
        self._errors = errors
        self.project = project
        self.project_id = project_id

    @classmethod
    def open(cls, url: str, *, root: Path, project: str) -> StoreReader | None:
        """A reader on its own connections, or ``None`` when only the full store can
        serve: a URL it does not parse, a database not yet created or not at the newest
        migration, or a project not yet recorded (the store creates and upgrades them).
        """
        errors: type[Exception]
        path = _sqlite_path(url, root)
        if path is not None:
            if not path.is_file():
                return None
            connect, errors, dialect = _sqlite_connector(path), sqlite3.Error, "sqlite"
        else:
            conninfo = _postgres_conninfo(url)
            if conninfo is None:
                return None
            try:
                import psycopg
            except ModuleNotFoundError:
                return None  # the full store says which extra to install
            connect, errors, dialect = _postgres_connector(conninfo), psycopg.Error, "postgresql"
        probe = cls(connect, dialect=dialect, errors=errors, project=project, project_id=0)
        found = probe._project_id_at_head()
        if found is None:
            return None
        probe.project_id = found
        return probe

    def _project_id_at_head(self) -> int | None:
        try:
            with self._connect() as connection:
                cursor = connection.cursor()
                cursor.execute("SELECT version_num FROM alembic_version")
                revision = cursor.fetchone()
                if revision is None or revision[0] != head_revision():
                    return None
                cursor.execute(self._sql("SELECT id FROM projects WHERE name = ?"), (self.project,))
                found = cursor.fetchone()
                return None if found is None else int(found[0])
        except (self._errors, StoreUnavailable):
            # No schema yet, or a database out of reach: the store creates the one and
            # says what is wrong with the other, as it always has.
            return None

    # -- plumbing -------------------------------------------------------------------

    def _decode(self, value: Any) -> Any:
        """A JSON column's value: PostgreSQL's driver decoded it already."""
        return _json(value) if self.dialect == "sqlite" else value

    def _sql(self, query: str) -> str:
        return query if self.dialect == "sqlite" else query.replace("?", "%s")

    @contextmanager
    def _reading(self, action: str) -> Iterator[Callable[[str, Sequence[Any]], list[Any]]]:
        """``fetch(sql, params)`` inside one read transaction (one snapshot); the
        driver's errors, connecting included, become ``StoreError``."""
        try:
            with self._connect() as connection:
                cursor = connection.cursor()

                def fetch(query: str, params: Sequence[Any] = ()) -> list[Any]:
                    cursor.execute(self._sql(query), tuple(params))
                    return list(cursor.fetchall())

                if self.dialect == "sqlite":
                    cursor.execute("BEGIN")
                try:
                    yield fetch
                finally:
                    if self.dialect == "sqlite":
                        cursor.execute("ROLLBACK")
                    else:
                        connection.rollback()
        except self._errors as exc:
            raise StoreError(f"{action}: the metadata database refused ({exc})") from exc

    @staticmethod
    def _marks(values: Sequence[Any]) -> str:
        return ", ".join("?" for _ in values)

    # -- runs -----------------------------------------------------------------------

    def _run(self, row: Sequence[Any]) -> RunRecord:
        return RunRecord(
            id=row[0],
            project=self.project,
            pipeline=row[1],
            status=row[2],
            started_at=_when(row[3]),
            finished_at=_maybe_when(row[4]),
            params=self._decode(row[5]),
            code_version=row[6],
            code_dirty=None if row[7] is None else bool(row[7]),
            environment=self._decode(row[8]),
            host=row[9],
            pid=row[10],
            error=row[11],
            kind=cast(RunKind, row[12]),
            experiment=row[13],
            name=row[14],
            parent_id=row[15],
        )

    def get_run(self, run_id: int) -> RunRecord:
        with self._reading(f"reading run {run_id}") as fetch:
            rows = fetch(f"SELECT {_RUN_COLUMNS} FROM pipeline_runs WHERE id = ?", (run_id,))
        if not rows or rows[0][16] != self.project_id:
            raise RecordNotFound(f"run {run_id} does not exist; `shipyard runs` lists runs")
        return self._run(rows[0])

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
        """Runs newest first, of ``pipeline``, ``experiment`` and with ``status`` when
        given; the page of ``limit`` runs after the ``offset`` newest (walked along the
        primary key).  Nested runs (trials, child runs) are left out unless ``nested``,
        or unless ``parent_id`` asks for the children of that run."""
        query = f"SELECT {_RUN_COLUMNS} FROM pipeline_runs WHERE project_id = ?"
        params: list[Any] = [self.project_id]
        if parent_id is not None:
            query += " AND parent_id = ?"
            params.append(parent_id)
        elif not nested:
            query += " AND parent_id IS NULL"
        for column, value in (
            ("experiment", experiment),
            ("pipeline", pipeline),
            ("status", status),
        ):
            if value is not None:
                query += f" AND {column} = ?"
                params.append(value)
        query += " ORDER BY id DESC LIMIT ? OFFSET ?"
        with self._reading("listing runs") as fetch:
            rows = fetch(query, [*params, limit, offset])
        return [self._run(row) for row in rows]

    def abandoned_runs(self) -> list[int]:
        """Runs of this host still marked running whose runner process is gone."""
        with self._reading("looking for abandoned runs") as fetch:
            rows = fetch(
                "SELECT id, pid FROM pipeline_runs WHERE project_id = ? AND status = ? "
                "AND host = ?",
                (self.project_id, "running", socket.gethostname()),
            )
        return [run_id for run_id, pid in rows if not pid_alive(pid)]

    def latest_metrics_of(
        self, run_ids: Iterable[int], keys: Iterable[str] | None = None
    ) -> dict[int, dict[str, float]]:
        """The last logged value of the metrics ``keys`` (every metric when None) of each
        run (runs that logged none are left out): one query for a page of runs, reading
        one row per run and key however long the histories."""
        ids = list(run_ids)
        names = None if keys is None else list(keys)
        if not ids or names == []:
            return {}
        last = f"SELECT max(id) FROM run_metrics WHERE run_id IN ({self._marks(ids)})"
        params: list[Any] = list(ids)
        if names is not None:
            last += f" AND key IN ({self._marks(names)})"
            params += names
        last += " GROUP BY run_id, key"
        found: dict[int, dict[str, float]] = {}
        with self._reading("reading the metrics of runs") as fetch:
            rows = fetch(
                f"SELECT run_id, key, value FROM run_metrics WHERE id IN ({last}) ORDER BY id",
                params,
            )
        for run_id, key, value in rows:
            found.setdefault(run_id, {})[key] = value
        return found

    # -- executions and artifacts ---------------------------------------------------

    def run_executions(self, run_id: int) -> list[ExecutionRecord]:
        self.get_run(run_id)
        return self._executions(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE executions.run_id = ? "
            "ORDER BY executions.id",
            (run_id,),
            action=f"reading the steps of run {run_id}",
        )

    def get_executions(self, execution_ids: Iterable[int]) -> list[ExecutionRecord]:
        ids = list(execution_ids)
        if not ids:
            return []
        return self._executions(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE executions.id IN "
            f"({self._marks(ids)}) ORDER BY executions.id",
            ids,
            action="reading executions",
        )

    def find_cached(self, fingerprint: str) -> list[ExecutionRecord]:
        """Earlier successful executions with this fingerprint, newest first."""
        return self._executions(
            f"SELECT {_EXECUTION_COLUMNS} FROM executions JOIN pipeline_runs "
            "ON pipeline_runs.id = executions.run_id WHERE pipeline_runs.project_id = ? "
            "AND executions.fingerprint = ? AND executions.status IN (?, ?) "
            "ORDER BY executions.id DESC LIMIT 3",
            (self.project_id, fingerprint, "succeeded", "cached"),
            action="looking up the cache",
        )

    def _executions(
        self, query: str, params: Sequence[Any], *, action: str
    ) -> list[ExecutionRecord]:
        with self._reading(action) as fetch:
            rows = fetch(query, params)
            if not rows:
                return []
            ids = [row[0] for row in rows]
            events = fetch(
                f"SELECT events.execution_id, events.direction, events.port, "
                f"{_ARTIFACT_COLUMNS} FROM events JOIN artifacts ON artifacts.id = "
                f"events.artifact_id WHERE events.execution_id IN ({self._marks(ids)}) "
                "ORDER BY events.id",
                ids,
            )
            properties = self._properties(fetch, "artifact", {event[3] for event in events})
        io: dict[int, dict[str, dict[str, ArtifactRecord]]] = {
            row_id: {INPUT: {}, OUTPUT: {}} for row_id in ids
        }
        for event in events:
            artifact = self._artifact(event[3:], properties.get(event[3], {}))
            io[event[0]][event[1]][event[2]] = artifact
        return [
            ExecutionRecord(
                id=row[0],
                run_id=row[1],
                step=row[2],
                component=row[3],
                fingerprint=row[4],
                status=row[5],
                cached_from_id=row[6],
                params=self._decode(row[7]),
                attempts=row[8],
                started_at=_maybe_when(row[9]),
                finished_at=_maybe_when(row[10]),
                error=row[11],
                traceback=row[12],
                inputs=io[row[0]][INPUT],
                outputs=io[row[0]][OUTPUT],
            )
            for row in rows
        ]

    @staticmethod
    def _artifact(row: Sequence[Any], properties: dict[str, Any]) -> ArtifactRecord:
        return ArtifactRecord(
            id=row[0],
            type_name=row[1],
            digest=row[2],
            kind=row[3],
            size=row[4],
            uri=row[5],
            created_at=_when(row[6]),
            properties=properties,
        )

    def get_artifact(self, artifact_id: int) -> ArtifactRecord:
        with self._reading(f"reading artifact {artifact_id}") as fetch:
            rows = fetch(
                f"SELECT {_ARTIFACT_COLUMNS}, artifacts.project_id FROM artifacts "
                "WHERE artifacts.id = ?",
                (artifact_id,),
            )
            if not rows or rows[0][7] != self.project_id:
                raise RecordNotFound(f"artifact {artifact_id} does not exist")
            properties = self._properties(fetch, "artifact", {artifact_id})
        return self._artifact(rows[0], properties.get(artifact_id, {}))

    def find_artifacts(self, digest_prefix: str) -> list[ArtifactRecord]:
        """Artifacts whose digest starts with ``digest_prefix`` (at least 6 characters)."""
        pattern = "".join("/" + c if c in "/%_" else c for c in digest_prefix) + "%"
        with self._reading("looking up artifacts") as fetch:
            rows = fetch(
                f"SELECT {_ARTIFACT_COLUMNS} FROM artifacts WHERE artifacts.project_id = ? "
                "AND artifacts.digest LIKE ? ESCAPE '/' LIMIT 20",
                (self.project_id, pattern),
            )
            properties = self._properties(fetch, "artifact", {row[0] for row in rows})
        return [self._artifact(row, properties.get(row[0], {})) for row in rows]

    def artifact_events(
        self, artifact_ids: Iterable[int], *, direction: str
    ) -> list[tuple[int, int, str]]:
        """``(execution_id, artifact_id, port)`` of events touching these artifacts."""
        ids = list(artifact_ids)
        if not ids:
            return []
        with self._reading("reading lineage events") as fetch:
            rows = fetch(
                "SELECT execution_id, artifact_id, port FROM events WHERE artifact_id IN "
                f"({self._marks(ids)}) AND direction = ?",
                [*ids, direction],
            )
        return [(row[0], row[1], row[2]) for row in rows]

    def first_producers(self, artifact_ids: Iterable[int]) -> dict[int, int]:
        """``artifact_id -> execution_id`` of the execution that computed each artifact:
        the earliest successful one with it as an output, else the earliest of any.

        Cache hits record the artifacts they reuse as outputs too, so an artifact of a
        pipeline run thousands of times has thousands of producers: each lookup walks
        the events index in execution order and stops at the first that fits.
        """
        found: dict[int, int] = {}
        with self._reading("looking up who made artifacts") as fetch:
            for artifact_id in sorted(set(artifact_ids)):
                first = fetch(
                    "SELECT events.execution_id FROM events JOIN executions ON executions.id "
                    "= events.execution_id WHERE events.artifact_id = ? AND "
                    "events.direction = ? AND executions.status = ? "
                    "ORDER BY events.execution_id LIMIT 1",
                    (artifact_id, OUTPUT, "succeeded"),
                ) or fetch(
                    "SELECT execution_id FROM events WHERE artifact_id = ? AND direction = ? "
                    "ORDER BY execution_id LIMIT 1",
                    (artifact_id, OUTPUT),
                )
                if first:
                    found[artifact_id] = first[0][0]
        return found

    # -- properties -----------------------------------------------------------------

    def properties(self, owner: str, owner_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """``owner_id -> {key: value}`` for several records of one kind."""
        with self._reading(f"reading properties of {owner}s") as fetch:
            return self._properties(fetch, owner, set(owner_ids))

    def _properties(
        self, fetch: Callable[[str, Sequence[Any]], list[Any]], owner: str, owner_ids: set[int]
    ) -> dict[int, dict[str, Any]]:
        if not owner_ids:
            return {}
        ids = list(owner_ids)
        found: dict[int, dict[str, Any]] = {}
        rows = fetch(
            "SELECT owner_id, key, value FROM properties WHERE owner = ? AND owner_id IN "
            f"({self._marks(ids)})",
            [owner, *ids],
        )
        for owner_id, key, value in rows:
            found.setdefault(owner_id, {})[key] = None if value is None else self._decode(value)
        return found

    # -- datasets -------------------------------------------------------------------

    @staticmethod
    def _dataset(row: Sequence[Any]) -> DatasetVersionRecord:
        return DatasetVersionRecord(
            id=row[0],
            name=row[1],
            digest=row[2],
            source=row[3],
            rows=row[4],
            columns=row[5],
            examples_id=row[6],
            statistics_id=row[7],
            run_id=row[8],
            created_at=_when(row[9]),
        )

    def dataset_versions(self, name: str | None = None) -> list[DatasetVersionRecord]:
        """Versions of every dataset (or of dataset ``name``), newest first."""
        query = f"SELECT {_DATASET_COLUMNS} FROM dataset_versions WHERE project_id = ?"
        params: list[Any] = [self.project_id]
        if name is not None:
            query += " AND name = ?"
            params.append(name)
        with self._reading("listing dataset versions") as fetch:
            rows = fetch(query + " ORDER BY id DESC", params)
        return [self._dataset(row) for row in rows]

    def dataset_version(self, version_id: int) -> DatasetVersionRecord:
        with self._reading(f"reading dataset version {version_id}") as fetch:
            rows = fetch(
                f"SELECT {_DATASET_COLUMNS} FROM dataset_versions WHERE id = ?", (version_id,)
            )
        if not rows or rows[0][10] != self.project_id:
            raise RecordNotFound(f"dataset version {version_id} does not exist")
        return self._dataset(rows[0])

    def find_dataset_version(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of dataset ``name`` with this content, if registered."""
        with self._reading(f"finding a version of dataset '{name}'") as fetch:
            rows = fetch(
                f"SELECT {_DATASET_COLUMNS} FROM dataset_versions WHERE project_id = ? "
                "AND name = ? AND digest = ?",
                (self.project_id, name, digest),
            )
        return self._dataset(rows[0]) if rows else None

    # -- models ---------------------------------------------------------------------

    def list_models(self) -> list[ModelRecord]:
        """Registered models by name, with their newest version and their aliases."""
        records = []
        with self._reading("listing models") as fetch:
            models = fetch(
                "SELECT id, name, created_at FROM registered_models WHERE project_id = ? "
                "ORDER BY name",
                (self.project_id,),
            )
            for model_id, name, created_at in models:
                latest = fetch(
                    "SELECT max(version) FROM model_versions WHERE model_id = ?", (model_id,)
                )
                aliases = fetch(
                    "SELECT model_aliases.alias, model_versions.version FROM model_aliases "
                    "JOIN model_versions ON model_versions.id = model_aliases.version_id "
                    "WHERE model_aliases.model_id = ? ORDER BY model_aliases.alias",
                    (model_id,),
                )
                records.append(
                    ModelRecord(
                        name=name,
                        created_at=_when(created_at),
                        latest_version=latest[0][0],
                        aliases={alias: version for alias, version in aliases},
                    )
                )
        return records

    # -- prediction log -------------------------------------------------------------

    def prediction_segments(
        self,
        *,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SegmentRecord]:
        """Segments of the prediction log that may hold predictions in ``[since,
        until)``, newest first."""
        query = (
            "SELECT prediction_segments.id, prediction_segments.model, prediction_segments.rows, "
            "prediction_segments.min_time, prediction_segments.max_time, artifacts.id, "
            "artifacts.digest, prediction_segments.created_at FROM prediction_segments "
            "JOIN artifacts ON artifacts.id = prediction_segments.artifact_id "
            "WHERE prediction_segments.project_id = ?"
        )
        params: list[Any] = [self.project_id]
        if model is not None:
            query += " AND prediction_segments.model = ?"
            params.append(model)
        query += " ORDER BY prediction_segments.max_time DESC, prediction_segments.id DESC"
        with self._reading("listing prediction log segments") as fetch:
            rows = fetch(query, params)
        # The window is applied here: SQLite compares its timestamps as text.
        segments = [
            SegmentRecord(
                id=row[0],
                model=row[1],
                rows=row[2],
                min_time=_when(row[3]),
                max_time=_when(row[4]),
                artifact_id=row[5],
                digest=row[6],
                created_at=_when(row[7]),
            )
            for row in rows
        ]
        return [
            segment
            for segment in segments
            if (since is None or segment.max_time >= since)
            and (until is None or segment.min_time < until)
        ]


def _sqlite_connector(path: Path) -> Connect:
    @contextmanager
    def connect() -> Iterator[Connection]:
        # Autocommit mode: the reader begins and ends its own read transactions.
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            yield connection
        finally:
            connection.close()

    return connect


def _postgres_connector(conninfo: str) -> Connect:
    @contextmanager
    def connect() -> Iterator[Connection]:
        import psycopg

        try:
            connection = psycopg.connect(conninfo)
        except psycopg.OperationalError as exc:
            where = conninfo.partition("@")[2] or conninfo
            raise StoreUnavailable(
                f"cannot reach the metadata database at {where} ({exc}); check "
                "store.database in shipyard.yaml or SHIPYARD_DB_URL"
            ) from exc
        try:
            yield connection
        finally:
            connection.close()

    return connect
