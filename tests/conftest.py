"""Fixtures shared by the whole suite: databases, projects, the CLI.

Every test that takes ``db_url`` runs twice: on SQLite and on PostgreSQL.  PostgreSQL
tests need ``SHIPYARD_TEST_POSTGRES_URL`` (CI sets it); each test gets a schema of its
own, dropped afterwards.  Tests that take ``s3_url`` get a fresh prefix in a bucket of a
real S3-compatible server (moto's) listening on loopback, one per test process.
"""

from __future__ import annotations

import fcntl
import logging
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
from tests.helpers import MakeProject, S3Server, run_cli
from tests.monitoring.traffic import trained_classifier

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database URL: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL metadata database URL, for tests that need PostgreSQL
    only (mark them ``postgres``)."""
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


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose classifier 'houses' learned 2,000 noisy rows, its loop off
    (``trained_classifier``).  Shared by the run: copy it before changing it."""
    return built_once(
        tmp_path_factory, "classifier", lambda folder: trained_classifier(folder / "houses")
    )


QUICKSTART_OUTPUT = "quickstart.out"
QUICKSTART_ERRORS = "quickstart.err"


def _quickstart(folder: Path) -> Path:
    result = run_cli("quickstart", "demo", cwd=folder, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder / QUICKSTART_OUTPUT).write_text(result.stdout)
    (folder / QUICKSTART_ERRORS).write_text(result.stderr)
    return folder / "demo"


@pytest.fixture(scope="session")
def turned_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``shipyard quickstart`` once per run: two runs, ames:1 and ames:2, a canary that
    promoted ames:2, served predictions with feedback, monitoring windows, alerts and the
    loop's history.  Shared: tests copy it (``demo``) before changing it."""
    return built_once(tmp_path_factory, "turned", _quickstart)


@pytest.fixture(scope="session")
def quickstart_output(turned_demo: Path) -> str:
    """What ``shipyard quickstart`` printed as it turned ``turned_demo``."""
    return (turned_demo.parent / QUICKSTART_OUTPUT).read_text()


@pytest.fixture(scope="session")
def quickstart_errors(turned_demo: Path) -> str:
    """What ``shipyard quickstart`` wrote to stderr as it turned ``turned_demo``."""
    return (turned_demo.parent / QUICKSTART_ERRORS).read_text()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with an empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(
        endpoint=f"http://{host}:{port}",
        bucket="shipyard-tests",
        access_key="AKIATESTSHIPYARD0001",
        secret_key="shipyard-test-secret-do-not-print-7f3a9c",
    )
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=s3.bucket)
    try:
        yield s3
    finally:
        server.stop()


@pytest.fixture
def s3_environment(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """Only the test server's AWS variables set (here and in the processes tests start);
    no shared config file or instance metadata can lend other credentials."""
    import s3fs

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # fsspec keeps one client per set of options; a test that changes the variables
    # must not meet the client an earlier test built from others.
    s3fs.S3FileSystem.clear_instance_cache()
    yield s3_server
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_url(s3_environment: S3Server) -> str:
    """``s3://bucket/prefix`` of a fresh, empty prefix on the test server."""
    return f"s3://{s3_environment.bucket}/{uuid.uuid4().hex[:12]}"
