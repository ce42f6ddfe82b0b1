"""The reader a command opens on its own connections answers as the store's does, on
SQLite and PostgreSQL, and steps aside when the schema is not the newest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from shipyard import Project, StoreError
from shipyard.store import MetadataStore, StoreReader, upstream
from shipyard.store.database import _alembic_config
from shipyard.store.records import MetricPoints
from tests.helpers import MakeProject
from tests.store.helpers import a_run, an_artifact


def _filled(store: MetadataStore) -> None:
    """Runs with steps, lineage, properties, metrics, a dataset version and a model."""
    examples = an_artifact(store, "a")
    run = a_run(store)
    execution = store.start_execution(
        run.id, step="train", component="Train", fingerprint="f" * 64,
        params={"depth": 3}, inputs={"examples": examples.id},
    )  # fmt: skip
    store.set_properties("artifact", examples.id, {"rows": 12, "source": "a.csv", "w": 0.5})
    store.finish_execution(execution, status="succeeded", attempts=1)
    store.finish_run(run.id, status="succeeded")
    points = MetricPoints(keys=["loss", "loss"], values=[0.5, 0.25], steps=[0, 1], times=[1.0, 2.0])
    store.tracking.append(run.id, params={"lr": 0.1}, points=points)
    store.datasets.register(
        "ames", digest="d" * 64, source="a.csv", rows=12, columns=3,
        examples_id=examples.id, run_id=run.id,
    )  # fmt: skip
    version = store.models.register_version(
        "m", package_id=examples.id, run_id=run.id, dataset_version_id=None, blessed=True,
        infra_validated=True, metrics={"rmse": 1.5}, reasons={}, code_version=None,
    )  # fmt: skip
    store.models.move_alias("m", "production", version.version, actor="t", reason="")
    a_run(store)  # one still running, in this very process


def test_a_reader_of_its_own_answers_as_the_store_does(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    _filled(store)
    reader = StoreReader.open(db_url, root=tmp_path, project="p")
    assert reader is not None
    for source in (store.reader, reader):
        assert source.abandoned_runs() == []  # the running run's process is alive
    runs = store.list_runs(limit=10)
    assert reader.list_runs(limit=10) == runs and len(runs) == 3
    assert reader.get_run(runs[1].id) == store.get_run(runs[1].id)
    steps = reader.run_executions(runs[1].id)
    assert steps == store.run_executions(runs[1].id)
    assert steps[0].params == {"depth": 3}
    assert steps[0].inputs["examples"].properties == {"rows": 12, "source": "a.csv", "w": 0.5}
    assert reader.latest_metrics_of([run.id for run in runs]) == {runs[1].id: {"loss": 0.25}}
    assert reader.dataset_versions() == store.datasets.list() != []
    assert reader.list_models() == store.models.list_models()
    (model,) = reader.list_models()
    assert (model.name, model.latest_version, model.aliases) == ("m", 1, {"production": 1})
    examples = steps[0].inputs["examples"]
    assert reader.find_artifacts(examples.digest[:8]) == [examples]
    assert upstream(reader, runs[1].id) == upstream(store.reader, runs[1].id)
    store.close()


def test_a_reader_steps_aside_for_a_schema_it_does_not_know(db_url: str, tmp_path: Path) -> None:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    store.close()
    assert StoreReader.open(db_url, root=tmp_path, project="other") is None  # not recorded
    config = _alembic_config()
    with store.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    store.database.dispose()
    assert StoreReader.open(db_url, root=tmp_path, project="p") is None
    assert (
        StoreReader.open(f"sqlite:///{tmp_path / 'absent.db'}", root=tmp_path, project="p") is None
    )
    assert not (tmp_path / "absent.db").exists()


def test_a_project_on_an_old_schema_upgrades_it_and_lists(make_project: MakeProject) -> None:
    project = make_project()
    a_run(project.store)
    config = _alembic_config()
    with project.store.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    project.close()
    with Project.open(project.root) as reopened:
        assert "store" not in vars(reopened)
        assert [run.pipeline for run in reopened.runs()] == ["p"]
        assert "store" in vars(reopened)  # the reader stepped aside; the store upgraded
    with Project.open(project.root) as again:
        assert [run.pipeline for run in again.runs()] == ["p"]
        assert "store" not in vars(again)


def test_a_refusing_database_is_a_store_error_naming_the_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    MetadataStore(url, root=tmp_path, project="p").close()
    reader = StoreReader.open(url, root=tmp_path, project="p")
    assert reader is not None
    connection = sqlite3.connect(tmp_path / "metadata.db")
    connection.execute("ALTER TABLE pipeline_runs RENAME TO gone")
    connection.close()
    with pytest.raises(StoreError, match="listing runs: the metadata database refused"):
        reader.list_runs()
