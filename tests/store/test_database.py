from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, column, insert, inspect, table, text

from shipyard import StoreConflict, StoreUnavailable
from shipyard.store import Database, MetadataStore, head_revision
from shipyard.store.database import _alembic_config
from shipyard.store.tables import Base, UTCDateTime, utcnow


def test_migrations_create_the_schema_the_models_describe(db_url: str, tmp_path: Path) -> None:
    database = Database(db_url, root=tmp_path)
    database.migrate()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        differences = compare_metadata(context, Base.metadata)
    database.dispose()
    assert differences == []


def test_the_run_metrics_execution_index_is_partial(db_url: str, tmp_path: Path) -> None:
    # The tables leave the index's WHERE to the migrations (see RunMetricRow), and
    # comparing the schema with the tables does not look at it: this does.
    database = Database(db_url, root=tmp_path)
    database.migrate()
    query = (
        "SELECT sql FROM sqlite_master WHERE name = 'ix_run_metrics_execution_id'"
        if database.dialect == "sqlite"
        # Other tests' schemas, in the same database, hold an index of that name too.
        else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_run_metrics_execution_id' "
        "AND schemaname = current_schema()"
    )
    with database.engine.connect() as connection:
        definition = connection.execute(text(query)).scalar_one()
    database.dispose()
    assert "WHERE" in definition.upper() and "execution_id IS NOT NULL" in definition


def test_head_revision_agrees_with_alembic() -> None:
    config: Config = _alembic_config()
    assert ScriptDirectory.from_config(config).get_current_head() == head_revision()


def test_migrating_twice_is_harmless(db_url: str, tmp_path: Path) -> None:
    first = Database(db_url, root=tmp_path)
    first.migrate()
    second = Database(db_url, root=tmp_path)
    second.migrate()
    with second.engine.connect() as connection:
        assert "pipeline_runs" in inspect(connection).get_table_names()
    first.dispose()
    second.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}", root=tmp_path)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    database.dispose()


def test_relative_sqlite_path_is_under_the_project(tmp_path: Path) -> None:
    database = Database("sqlite:///.shipyard/metadata.db", root=tmp_path)
    database.migrate()
    database.dispose()
    assert (tmp_path / ".shipyard" / "metadata.db").is_file()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    store_url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(StoreUnavailable, match="cannot reach the metadata database at"):
        MetadataStore(store_url, root=tmp_path, project="p")


def test_unsupported_database_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="unsupported metadata database 'mysql'"):
        Database("mysql://localhost/db", root=tmp_path)
    with pytest.raises(StoreUnavailable, match="is not a database URL"):
        Database("not a url", root=tmp_path)


def test_integrity_errors_become_store_conflicts(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    run = store.start_run("x", params={}, code_version=None, code_dirty=None, environment={})
    execution = store.start_execution(
        run.id, step="s", component="m:f", fingerprint=None, params={}, inputs={}
    )
    with pytest.raises(StoreConflict, match="conflicts with a stored record"):
        # An event naming an artifact that does not exist breaks a foreign key; the
        # whole step record is rolled back with it.
        store.start_execution(
            run.id,
            step="t",
            component="m:f",
            fingerprint=None,
            params={},
            inputs={"a": 999_999},
        )
    assert [e.id for e in store.run_executions(run.id)] == [execution]
    store.close()


def test_feedback_stored_before_review_existed_came_from_the_api(
    db_url: str, tmp_path: Path
) -> None:
    # A database at 0005, the schema before the review queue, with one label in it.
    database = Database(db_url, root=tmp_path)
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        projects = table(
            "projects", column("id"), column("name"), column("created_at", UTCDateTime)
        )
        connection.execute(insert(projects).values(id=1, name="p", created_at=utcnow()))
        feedback = table(
            "feedback",
            column("project_id"),
            column("prediction_id"),
            column("label", JSON),
            column("received_at", UTCDateTime),
        )
        connection.execute(
            insert(feedback).values(
                project_id=1, prediction_id="x", label={"price": 3.5}, received_at=utcnow()
            )
        )
    database.dispose()

    store = MetadataStore(db_url, root=tmp_path, project="p")  # upgrades to the head
    (label,) = store.predictions.feedback()
    assert (label.prediction_id, label.label, label.source) == ("x", {"price": 3.5}, "api")
    assert store.review.depth() == [] and store.automation.change_marker() == 0
    store.close()
