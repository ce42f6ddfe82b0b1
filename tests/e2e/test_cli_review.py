"""The review and automation commands as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard import Project
from shipyard.prediction_log import PredictionRecord, new_prediction_id
from shipyard.store.records import NewReviewItem
from tests.e2e.serving_fixtures import rows, trained_project
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_project(tmp_path_factory.mktemp("cli-review") / "houses", task="classification")


def _ok(folder: Path, *args: str, typed: str | None = None) -> str:
    result = run_cli(*args, cwd=folder, input=typed)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _refused(folder: Path, *args: str) -> str:
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 1, result.stdout
    return result.stderr


def _queue(folder: Path, count: int) -> list[str]:
    """Log ``count`` answers and queue them for review, as a server at 'assist' does
    (without a confidence: a contradicting label never asks for a second one)."""
    ids = [new_prediction_id() for _ in range(count)]
    with Project.open(folder) as project:
        log = project.prediction_log()
        for prediction_id, row in zip(ids, rows(count, seed=3, task="classification"), strict=True):
            log.append([
                PredictionRecord(prediction_id=prediction_id, model="houses", version=1,
                                 inputs=row, prediction="yes", latency_ms=1.0)
            ])  # fmt: skip
        log.close()
        project.store.review.enqueue([
            NewReviewItem(model="houses", version=1, prediction_id=prediction_id, inputs=row,
                          suggestion="yes", probabilities=None,
                          confidence=None, interval=None, reasons=["assist"], blind=False,
                          labels_required=1)
            for prediction_id, row in zip(ids, rows(count, seed=3, task="classification"),
                                          strict=True)
        ])  # fmt: skip
    return ids


def test_automation_is_shown_set_and_kept_in_its_history(folder: Path) -> None:
    assert "automation level full" in _ok(folder, "automation", "houses")
    said = _ok(
        folder, "automation", "houses", "partial", "--target-precision", "0.9",
        "--reason", "agreement is high",
    )  # fmt: skip
    assert "automation level partial" in said and "target precision 90%" in said
    assert "agreement is high" in said
    state = json.loads(_ok(folder, "automation", "houses", "--format", "json"))
    assert state["level"] == "partial" and state["target_precision"] == 0.9
    assert [(e["before"]["level"] if e["before"] else None, e["after"]["level"])
            for e in state["history"]] == [(None, "partial")]  # fmt: skip
    assert state["plan"]["version"] == 1
    assert "did you mean 'assist'" in _refused(folder, "automation", "houses", "asist")
    assert "no model named 'nope'" in _refused(folder, "automation", "nope", "full")
    with Project.open(folder) as project:
        assert len(project.automation.history("houses")) == 1  # the refusals changed nothing


def test_a_reviewer_claims_labels_and_works_the_queue_in_the_terminal(folder: Path) -> None:
    ids = _queue(folder, 3)
    listing = _ok(folder, "review", "list", "--model", "houses")
    assert "3 open" in listing
    item = json.loads(_ok(folder, "review", "claim", "-r", "ana", "--format", "json"))
    assert item["prediction_id"] == ids[0] and item["suggestion"] == "yes"
    assert "not a class" in _refused(
        folder, "review", "label", str(item["id"]), "maybe", "-r", "ana"
    )
    assert "held by ana" in _refused(folder, "review", "label", str(item["id"]), "no", "-r", "bo")
    said = _ok(folder, "review", "label", str(item["id"]), "no", "-r", "ana")
    assert "resolved (single)" in said and "recorded as feedback" in said

    # `review next`: one bad label (asked again), one good, one skip, then the queue is empty.
    worked = _ok(folder, "review", "next", "-r", "bo", typed="maybe\nyes\ns\n")
    assert "try again" in worked and "resolved (single)" in worked and "skipped" in worked
    assert "nothing (more) to review; 2 done" in worked
    with Project.open(folder) as project:
        labels = project.prediction_log().labels().set_index("prediction_id")["label"]
    assert labels[ids[0]] == "no" and labels[ids[1]] == "yes" and ids[2] not in labels
    stats = json.loads(_ok(folder, "review", "stats", "houses", "--format", "json"))
    assert stats["statuses"] == {"resolved": 2, "skipped": 1}
    assert {r["reviewer"]: r["labels"] for r in stats["reviewers"]} == {"ana": 1, "bo": 1}
    shown = _ok(folder, "review", "stats", "houses")
    assert "2 resolved, 1 skipped" in shown and "threshold on real traffic: none" in shown


def test_guidelines_are_versioned_from_the_project_file(folder: Path) -> None:
    assert "no guideline for houses" in _ok(folder, "review", "guideline", "houses")
    (folder / "guidelines").mkdir(exist_ok=True)
    (folder / "guidelines" / "houses.md").write_text("Say yes above the median.\n")
    assert "v1" in _ok(folder, "review", "guideline", "houses")
    (folder / "guidelines" / "houses.md").write_text("Say yes above the median price.\n")
    history = _ok(folder, "review", "guideline", "houses", "--history")
    assert "v1" in history and "v2" in history and "median price" in history
