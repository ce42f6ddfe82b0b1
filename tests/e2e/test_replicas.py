"""Two ``shipyard serve`` replicas, each in a folder of its own (as on two machines), on one
PostgreSQL store and one S3 bucket (moto's server on loopback): they agree on aliases and
deployments, each spools its own answers, and the compacted log and the feedback are
shared."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from tests.e2e.serving_fixtures import RunningServer, configure, launch_server, rows, wait_ready
from tests.helpers import make_table, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MODEL = "houses"


def shared_settings(folder: Path, database: str, artifacts: str) -> None:
    """One store for all; answers reach the shared log within about a second."""
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["store"] = {"database": database, "artifacts": artifacts}
    settings["serve"] = {"compact_seconds": 0.5, "spool_seconds": 0.5}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_url: str, s3_url: str
) -> Iterator[tuple[RunningServer, RunningServer]]:
    trainer = tmp_path / MODEL
    trainer.mkdir()
    make_table(400, seed=1).to_csv(trainer / "houses.csv", index=False)
    Project.init(trainer, data=trainer / "houses.csv", target="price").close()
    shared_settings(trainer, postgres_url, s3_url)
    for iterations in (5, 8):  # versions 1 and 2
        configure(trainer, max_iter=iterations)
        with Project.open(trainer) as project:
            project.run(project.standard_pipeline()).raise_for_failure()
    with Project.open(trainer) as project:
        project.registry.promote(MODEL, 1, reason="the first version serves")
    servers = []
    try:
        for name in ("replica-a", "replica-b"):  # started side by side
            folder = tmp_path / name
            folder.mkdir()
            shutil.copy(trainer / CONFIG_FILE, folder / CONFIG_FILE)
            servers.append(launch_server(folder, "--alias", "production"))
        for server in servers:
            wait_ready(server)
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def versions(server: RunningServer, count: int) -> set[int]:
    with server.client() as client:
        answers = [
            client.post("/predict", json={"instances": [row]}) for row in rows(count, seed=count)
        ]
    assert all(answer.status_code == 200 for answer in answers), answers[0].text
    return {answer.json()["version"] for answer in answers}


def eventually(check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the replicas did not agree in time"
        time.sleep(0.3)


def test_replicas_agree_on_deployments_and_share_the_log_and_feedback(
    replicas: tuple[RunningServer, RunningServer],
) -> None:
    a, b = replicas
    assert versions(a, 5) == versions(b, 5) == {1}

    deployed = run_cli("deploy", MODEL, "2", "--strategy", "blue-green", cwd=b.folder)
    assert deployed.returncode == 0, deployed.stderr
    switched = run_cli("switch", MODEL, cwd=a.folder)
    assert switched.returncode == 0, switched.stderr
    eventually(lambda: versions(a, 3) == versions(b, 3) == {2})

    answered = {}
    for name, server in (("a", a), ("b", b)):
        with server.client() as client:
            answer = client.post("/predict", json={"instances": rows(1, seed=99)})
            answered[name] = answer.json()["prediction_ids"][0]

    def feedback_taken(server: RunningServer, prediction_id: str) -> bool:
        answer = httpx.post(
            f"{server.url}/feedback", json={"prediction_id": prediction_id, "label": 250_000.0}
        )
        return answer.status_code == 200

    # Each answer is in its replica's own spool until compacted into the shared log.
    eventually(lambda: feedback_taken(a, answered["b"]))
    eventually(lambda: feedback_taken(b, answered["a"]))
    shown = run_cli("predictions", "--since", "1h", "--format", "json", cwd=a.folder)
    assert shown.returncode == 0, shown.stderr
    assert answered["a"] in shown.stdout and answered["b"] in shown.stdout
