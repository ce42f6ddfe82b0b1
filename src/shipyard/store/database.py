"""Connecting to the metadata database and keeping its schema at the newest migration.

SQLite is the embedded default: WAL journaling lets readers work beside one writer, a busy
timeout makes a second writer wait instead of failing, and write transactions start with
``BEGIN IMMEDIATE`` so that two processes never deadlock upgrading a read lock.
PostgreSQL is chosen by URL.  Driver errors become ``StoreError`` subclasses here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from shipyard.errors import StoreConflict, StoreError, StoreUnavailable
from shipyard.store.reader import SQLITE_BUSY_TIMEOUT_MS, head_revision

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATION_LOCK_KEY = 0x5_4149_5059  # an arbitrary constant for pg_advisory_xact_lock


def normalise_url(url: str, root: Path) -> str:
    """Make a relative SQLite path absolute under ``root`` and pick the psycopg driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreUnavailable(
            f"'{url}' is not a database URL; use sqlite:///path or postgresql://host/db"
        ) from exc
    if parsed.drivername == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise StoreUnavailable("an in-memory SQLite store cannot be shared; give a file")
        path = Path(database)
        if not path.is_absolute():
            path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(parsed.set(database=str(path)))
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise StoreUnavailable(
            f"unsupported metadata database '{parsed.drivername}'; use sqlite or postgresql"
        )
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("shipyard_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config() -> Config:
    # Alembic is imported only when a schema must be checked or upgraded (start-up time).
    from alembic.config import Config

    config = Config()
    location = resources.files("shipyard.store") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


class Database:
    """An engine plus the sessions, migrations and error translation around it."""

    def __init__(self, url: str, *, root: Path) -> None:
        self.url = normalise_url(url, root)
        self.display_url = make_url(self.url).render_as_string(hide_password=True)
        self.dialect = make_url(self.url).get_backend_name()
        try:
            # No pre-ping: it costs a round trip per transaction; recycle idle ones instead.
            self.engine = create_engine(self.url, pool_recycle=1800)
        except ModuleNotFoundError as exc:
            raise StoreUnavailable(
                f"the driver for {self.display_url} is not installed ({exc.name}); "
                "install it with: pip install 'shipyard[postgres]'"
            ) from exc
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._write_engine = self.engine.execution_options(shipyard_write=True)

    @contextmanager
    def translate(self, action: str) -> Iterator[None]:
        """Turn SQLAlchemy and driver exceptions raised inside into ``StoreError``."""
        try:
            yield
        except IntegrityError as exc:
            raise StoreConflict(f"{action}: conflicts with a stored record ({exc.orig})") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated or "connect" in str(exc.orig).lower():
                raise StoreUnavailable(
                    f"{action}: cannot reach the metadata database at {self.display_url} "
                    f"({exc.orig}); check store.database in shipyard.yaml or SHIPYARD_DB_URL"
                ) from exc
            raise StoreError(f"{action}: the metadata database refused ({exc.orig})") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{action}: {exc}") from exc

    @contextmanager
    def raw_connection(self) -> Iterator[Any]:
        """A DB-API connection of the pool, for ``StoreReader``; returned after."""
        with self.translate("connecting to the metadata database"):
            connection = self.engine.raw_connection()
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def reading(self, action: str) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self.translate(action), Session(self.engine) as session:
            yield session

    @contextmanager
    def writing(self, action: str) -> Iterator[Session]:
        """A session whose changes are committed together, or not at all."""
        with (
            self.translate(action),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration; safe when processes race to do it."""
        head = head_revision()
        with self.translate("reading the schema version"), self.engine.connect() as conn:
            if _current_revision(conn) == head:
                return
        with (
            self.translate("migrating the metadata schema"),
            self._write_engine.begin() as connection,
        ):
            if self.dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            if _current_revision(connection) == head:
                return
            from alembic import command

            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
