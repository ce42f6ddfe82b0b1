"""A project whose artifacts live on S3 and whose metadata lives in PostgreSQL.

The installed ``shipyard`` runs the standard pipeline, predicts a file and serves a
request in fresh processes that find the model only on the (loopback, moto) S3 server;
the served prediction is compacted into a segment on S3.  Credentials come from the
usual AWS variables and are never written anywhere shipyard writes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest
import s3fs
import yaml
from sqlalchemy import create_engine, inspect, text

from shipyard import Project
from shipyard.config import CONFIG_FILE
from tests.e2e.serving_fixtures import configure, rows, start_server
from tests.helpers import S3Server, make_table, run_cli


def everything_recorded(database_url: str) -> str:
    """Every row of every table of the metadata store, as text."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            assert "prediction_segments" in names
            return "\n".join(
                repr(connection.execute(text(f'SELECT * FROM "{name}"')).all()) for name in names
            )
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_project_on_s3_and_postgres_trains_serves_and_compacts(
    s3_url: str, s3_environment: S3Server, postgres_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "houses"
    folder.mkdir()
    make_table(300, seed=1).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    configure(folder, max_iter=20)
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["store"] = {"database": postgres_url, "artifacts": s3_url}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    said: list[str] = []

    def shipyard(*args: str, env: dict[str, str] | None = None) -> str:
        result = run_cli(*args, cwd=folder, env=env)
        said.extend([result.stdout, result.stderr])
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        return result.stdout

    shipyard("run")
    fs = s3fs.S3FileSystem()
    stored = fs.find(s3_url)
    assert any("/objects/" in name for name in stored)
    assert any(name.endswith(".json") and "/trees/" in name for name in stored)
    assert not (folder / ".shipyard" / "artifacts" / "objects").exists()
    assert "houses" in shipyard("models")

    # A fresh process with an empty cache finds the model on S3 alone.
    cache = folder / ".shipyard" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    pd.DataFrame(rows(25)).to_csv(tmp_path / "new.csv", index=False)
    out = shipyard(
        "predict",
        "houses",
        "--input",
        str(tmp_path / "new.csv"),
        "--output",
        str(tmp_path / "out.csv"),
    )
    assert "wrote 25 predictions of houses:1" in out
    assert len(pd.read_csv(tmp_path / "out.csv")) == 25
    assert any(cache.iterdir())

    # Served, then compacted onto S3 when the server stops.
    server = start_server(folder)
    try:
        response = httpx.post(f"{server.url}/predict", json={"instances": rows(3)}, timeout=30)
        assert response.status_code == 200, response.text
        ids = response.json()["prediction_ids"]
        server.process.terminate()  # the compactor's last pass runs as the server stops
        server.process.wait(timeout=30)
        assert server.process.stderr is not None
        said.append(server.process.stderr.read().decode())
    finally:
        server.stop()
    with Project.open(folder) as project:
        segments = project.store.predictions.segments(model="houses")
        assert segments
        for segment in segments:
            assert project.artifacts.exists(segment.digest, "file")
            fs.invalidate_cache()
            assert fs.exists(f"{s3_url}/objects/{segment.digest[:2]}/{segment.digest}")
    listed = shipyard("predictions", "--model", "houses", "--format", "json")
    assert all(prediction_id in listed for prediction_id in ids)

    # The secret is nowhere shipyard wrote or said anything.
    secret, key = s3_environment.secret_key, s3_environment.access_key
    recorded = everything_recorded(postgres_url)
    assert s3_url in recorded
    assert secret not in recorded and key not in recorded
    for path in folder.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert secret.encode() not in body and key.encode() not in body, path
    assert not [text for text in said if secret in text or key in text]


@pytest.mark.slow
def test_s3_failures_are_one_line_naming_the_store(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    folder = tmp_path / "houses"
    folder.mkdir()
    make_table(100, seed=1).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    no_bucket = "s3://no-such-bucket/artifacts"
    failures = {
        "the bucket does not exist": {"SHIPYARD_ARTIFACTS_URL": no_bucket},
        "no credentials were found": {
            "SHIPYARD_ARTIFACTS_URL": s3_url,
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
        },
    }
    for reason, env in failures.items():
        result = run_cli("run", cwd=folder, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert env["SHIPYARD_ARTIFACTS_URL"] in lines[0] and reason in lines[0], lines[0]
        assert "Traceback" not in result.stdout + result.stderr
        assert s3_environment.secret_key not in result.stdout + result.stderr
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == s3_environment.secret_key
