"""``shipyard predictions``, run as a user runs it: the CLI in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import Project
from shipyard.prediction_log import PredictionRecord
from tests.helpers import run_cli

LONG_TEXT = "a long description of the house " * 10


def shipyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def now() -> datetime:
    """The test's own clock: taken when it starts, not when the module was imported,
    which in a long run can be more than the half hour the tests' windows allow."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def logged(tmp_path: Path, now: datetime) -> Iterator[Project]:
    """A default project with three predictions of two models; the newest still spooled."""
    project = Project.init(tmp_path / "proj")
    log = project.prediction_log()
    log.append(
        [
            PredictionRecord(
                prediction_id="old-ames",
                model="ames",
                version=1,
                inputs={"Lot_Area": 8450, "Notes": LONG_TEXT},
                prediction=208500.0,
                latency_ms=2.5,
                timestamp=now - timedelta(hours=3),
            ),
            PredictionRecord(
                prediction_id="churn-1",
                model="churn",
                version=4,
                inputs={"tenure": 3},
                prediction="leaves",
                probabilities={"leaves": 0.75, "stays": 0.25},
                latency_ms=1.0,
                timestamp=now - timedelta(minutes=30),
                variant="canary",
            ),
        ]
    )
    log.close()
    log.compact()
    spooled = project.prediction_log()  # as a running server's would be
    spooled.append(
        [
            PredictionRecord(
                prediction_id="new-ames",
                model="ames",
                version=2,
                inputs={"Lot_Area": 9600, "Notes": "[bold]x[/]"},
                prediction=181500.0,
                latency_ms=1.5,
                timestamp=now - timedelta(minutes=5),
            )
        ]
    )
    yield project
    spooled.close()
    project.close()


def test_predictions_table_shows_the_newest_first_with_inputs_cut_short(logged: Project) -> None:
    result = shipyard("predictions", cwd=logged.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if "ames:" in line or "churn:" in line]
    assert [row.split("│")[2].strip() for row in rows] == ["new-ames", "churn-1", "old-ames"]
    assert "leaves (0.75)" in rows[1] and "canary" in rows[1]
    assert "[bold]x[/]" in rows[0]  # inputs are shown as text, not as markup
    assert LONG_TEXT not in result.stdout and "…" in rows[2]

    limited = shipyard("predictions", "--model", "ames", "--limit", "1", cwd=logged.root)
    assert limited.returncode == 0, limited.stderr
    assert "new-ames" in limited.stdout and "old-ames" not in limited.stdout
    assert "--limit N shows more" in limited.stdout


def test_predictions_as_csv_and_json_hold_every_field_in_full(
    logged: Project, now: datetime
) -> None:
    result = shipyard("predictions", "--format", "csv", "--since", "1h", cwd=logged.root)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["prediction_id"] for row in rows] == ["new-ames", "churn-1"]
    churn = rows[1]
    assert churn["model"] == "churn" and churn["version"] == "4"
    assert churn["prediction"] == "leaves" and churn["variant"] == "canary"
    assert json.loads(churn["probabilities"]) == {"leaves": 0.75, "stays": 0.25}
    assert json.loads(churn["inputs"]) == {"tenure": 3}
    assert float(churn["latency_ms"]) == 1.0
    assert datetime.fromisoformat(churn["timestamp"]) == now - timedelta(minutes=30)

    since = (now - timedelta(hours=4)).isoformat()
    result = shipyard("predictions", "--format", "json", "--since", since, cwd=logged.root)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["prediction_id"] for r in records] == ["new-ames", "churn-1", "old-ames"]
    assert records[2]["inputs"] == {"Lot_Area": 8450, "Notes": LONG_TEXT}
    assert records[2]["prediction"] == 208500.0 and records[2]["version"] == 1


def test_predictions_command_errors(tmp_path: Path) -> None:
    bad = shipyard("predictions", "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2
    assert "neither an ISO time" in bad.stderr
    outside = shipyard("predictions", cwd=tmp_path)
    assert outside.returncode == 1
    assert outside.stderr.strip().startswith("error: no shipyard.yaml")
    assert len(outside.stderr.strip().splitlines()) == 1
