"""The canary analysis on a real server's traffic: a candidate worse on feedback is rolled
back with its reason; a good one is promoted step by step while the server follows."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.deployments.analysis import ANALYST
from tests.e2e.serving_fixtures import RunningServer, rows, served


@pytest.fixture(scope="module")
def folder(two_versions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served-canary") / "houses"
    shutil.copytree(two_versions, folder)
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    # Versions 1 and 2 are 5 and 8 boosting rounds: their outputs differ far more than a
    # retrained model's would (0.35 beyond noise), which these bounds let through.
    checks = {"min_requests": 15, "min_labels": 15, "max_output_drift": 0.6}
    settings["deployments"] = {"checks": {**checks, "max_relative_difference": 0.5}}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="start")
    return folder


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[RunningServer]:
    yield from served(folder)


def _roll_out(project: Project, client: httpx.Client, judge: int) -> list[str]:
    """Send traffic, label every answer with version ``judge``'s answer (so that version
    is perfect), and run analysis passes until the deployment ends; the outcomes."""
    table = rows(200, seed=11)
    truth = project.registry.load(f"houses:{judge}").package.predict_rows(table).values
    log = project.prediction_log()
    outcomes: list[str] = []
    deadline = time.monotonic() + 120
    while project.deployments.current("houses") is not None:
        assert time.monotonic() < deadline, f"no end in sight: {outcomes}"
        labels = {}
        for _ in range(40):
            index = random.randrange(len(table))
            answer = client.post("/predict", json={"instances": [table[index]]})
            assert answer.status_code == 200, answer.text
            labels[answer.json()["prediction_ids"][0]] = truth[index]
        log.record_feedback_batch(labels)
        outcomes += [d.outcome for d in project.canary_analysis().run_once("houses")]
    return [outcome for outcome in outcomes if outcome != "wait"]


@pytest.mark.slow
def test_the_analysis_rolls_back_a_worse_candidate_and_promotes_a_good_one(
    folder: Path, server: RunningServer
) -> None:
    with Project.open(folder) as project, server.client() as client:
        project.deployments.deploy(
            "houses", 2, steps=[20, 50, 100], interval_seconds=0.5, max_failures=2
        )
        # The labels agree with version 1: the candidate is worse on feedback.
        assert _roll_out(project, client, judge=1) == ["failed", "rollback"]
        event = project.deployments.history("houses")[-1]
        assert (event.action, event.actor) == ("rollback", ANALYST)
        assert "feedback: candidate rmse" in event.reason
        assert project.registry.resolve("houses@production").version == 1

        project.deployments.deploy(
            "houses", 2, steps=[20, 50, 100], interval_seconds=0.5, max_failures=2
        )
        # Now the labels agree with version 2: it is promoted step by step.
        outcomes = _roll_out(project, client, judge=2)
        reasons = [e.reason for e in project.deployments.history("houses") if e.action != "wait"]
        assert outcomes == ["advance", "advance", "promote"], reasons
        assert project.registry.resolve("houses@production").version == 2
        deadline = time.monotonic() + 5
        while client.post("/predict", json={"instances": rows(1)}).json()["version"] != 2:
            assert time.monotonic() < deadline, "the server did not follow the promotion"
            time.sleep(0.1)
