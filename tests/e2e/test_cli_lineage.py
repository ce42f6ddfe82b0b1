"""``shipyard lineage`` of a prediction a real server answered, run as a user runs it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.serving_fixtures import rows, served, trained_project
from tests.helpers import run_cli


def test_lineage_of_a_served_prediction_reaches_the_dataset_version(tmp_path: Path) -> None:
    folder = trained_project(tmp_path / "houses", max_iter=10)
    for server in served(folder):
        with server.client() as client:
            answer = client.post("/predict", json={"instances": rows(2)}).json()
    prediction_id = answer["prediction_ids"][0]

    result = run_cli("lineage", prediction_id, cwd=folder)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"prediction {prediction_id} by houses:1 (primary) at ")
    assert "model houses:1 (production) registered" in lines[1]
    assert "run 1 (standard) succeeded" in lines[2] and "code not in a git checkout" in lines[2]
    assert "ModelPackage artifact:" in lines[3]
    assert "step Trainer execution" in lines[4]
    (ingest,) = [number for number, line in enumerate(lines) if "step ExampleGen" in line]
    dataset = lines[ingest + 1]
    assert dataset.index("dataset version 1: houses sha256:") > lines[ingest].index("step")
    assert "(400 rows × 6 columns) from" in dataset
    assert run_cli("lineage", f"prediction:{prediction_id}", cwd=folder).stdout == result.stdout


def test_lineage_of_an_unknown_prediction_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert run_cli("init", cwd=folder).returncode == 0

    result = run_cli("lineage", "prediction:nope", cwd=folder)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: prediction 'nope' is not in the prediction log; give an id that POST "
        "/predict returned (`shipyard predictions` lists them)"
    )
