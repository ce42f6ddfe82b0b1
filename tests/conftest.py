"""Fixtures shared by the whole suite: databases, projects, the CLI.

Every test that takes ``db_url`` runs twice: on SQLite and on PostgreSQL.  PostgreSQL
tests need ``SHIPYARD_TEST_POSTGRES_URL`` (CI sets it); each test gets a schema of its
own, dropped afterwards.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shipyard import Project
from shipyard.config import CONFIG_FILE, ProjectConfig, StoreSettings
from shipyard.pipeline.executors import share_cores
from tests.e2e.serving_fixtures import trained_twice
from tests.helpers import MakeProject, run_cli

POSTGRES_URL = os.environ.get("SHIPYARD_TEST_POSTGRES_URL", "")


def pytest_configure() -> None:
    # Test processes run side by side (pytest-xdist): each, and every process it starts,
    # takes its share of the cores for OpenMP and BLAS, as a pipeline's workers do.
    share_cores(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]) -> Path:
    """What ``build(folder)`` returns, built once for the whole run: the first test
    process to ask builds it, the others (pytest-xdist's) wait for it and share it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build(factory.mktemp(name))
    run_folder = factory.getbasetemp().parent  # the run's, shared by its test processes
    with open(run_folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = run_folder / f"{name}.built"
        if not done.exists():
            folder = run_folder / name
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            folder.mkdir()
            done.write_text(str(build(folder)))
        return Path(done.read_text())


def _postgres_schema_url() -> Iterator[str]:
    if not POSTGRES_URL:
        if os.environ.get("SHIPYARD_REQUIRE_POSTGRES"):
            pytest.fail("SHIPYARD_REQUIRE_POSTGRES is set but SHIPYARD_TEST_POSTGRES_URL is not")
        pytest.skip("PostgreSQL tests need SHIPYARD_TEST_POSTGRES_URL (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema's URL, for what only PostgreSQL can do."""
    yield from _postgres_schema_url()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database URL: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def make_project(tmp_path: Path, db_url: str) -> Iterator[MakeProject]:
    """Factory of projects in temporary folders, all on the parametrized database."""
    made: list[Project] = []

    def make(name: str = "test", *, folder: Path | None = None, workers: int = 2) -> Project:
        root = folder or tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        config = ProjectConfig(name=name, store=StoreSettings(database=db_url))
        config.pipeline.workers = workers
        (root / CONFIG_FILE).write_text(config.to_yaml())
        project = Project.open(root)
        made.append(project)
        return project

    yield make
    for project in made:
        project.close()


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    return make_project()


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained project (SQLite) whose model 'houses' has versions 1, in production, and
    2, both blessed.  Shared by the run: copy it before changing it."""
    return built_once(
        tmp_path_factory, "two-versions", lambda folder: trained_twice(folder / "houses")
    )


def _quickstart(folder: Path) -> Path:
    result = run_cli("quickstart", "demo", cwd=folder, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "demo"


@pytest.fixture(scope="session")
def turned_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shipyard quickstart`` once per run: two runs, ames:1 and ames:2, a canary that
    promoted ames:2, served predictions with feedback, monitoring windows, alerts and the
    loop's history.  Shared: tests copy it (``demo``) before changing it."""
    return built_once(tmp_path_factory, "turned", _quickstart)
