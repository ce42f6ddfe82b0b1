"""The deployment commands as a user types them: deploy, move, switch, promote, rollback,
and what `shipyard deployments` shows; refusals are one line and change nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from shipyard import Project
from tests.helpers import run_cli


@pytest.fixture
def folder(two_versions: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "houses"
    shutil.copytree(two_versions, copy)
    return copy


def _ok(folder: Path, *args: str) -> str:
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_canary_from_deploy_to_promotion_and_back(folder: Path) -> None:
    said = _ok(folder, "deploy", "houses", "2", "--percent", "20", "--reason", "try v2")
    assert "deployed houses: canary v2 at 20% beside v1" in said
    assert "canary v2 at 50% beside v1" in _ok(folder, "deploy", "houses", "--percent", "50")
    listing = _ok(folder, "deployments")
    assert "houses" in listing and "canary v2 at 50% beside v1" in listing
    status = _ok(folder, "deployments", "houses")
    assert "production is version 1" in status and "try v2" in status

    assert "version 2 is production (was 1)" in _ok(folder, "promote", "houses")
    assert "version 1 serves all requests" in _ok(folder, "rollback", "houses", "--reason", "no")
    state = json.loads(_ok(folder, "deployments", "houses", "--format", "json"))
    assert state["production"] == 1 and state["deployment"] is None
    actions = [(e["action"], e["reason"]) for e in state["history"]]
    assert actions == [
        ("deploy", "try v2"), ("percent", "percent 50"), ("promote", "promote the candidate"),
        ("rollback", "no"),
    ]  # fmt: skip


def test_blue_green_is_switched_and_an_analysed_canary_shows_its_plan(folder: Path) -> None:
    _ok(folder, "deploy", "houses", "2", "--strategy", "blue-green")
    assert "v2 live" in _ok(folder, "switch", "houses")
    assert "v1 live" in _ok(folder, "switch", "houses")
    _ok(folder, "rollback", "houses")
    said = _ok(folder, "deploy", "houses", "2", "--steps", "5,50,100", "--interval", "2m")
    assert "canary v2 at 5% beside v1" in said and "every 120 s" in said
    assert "step 1 of 5,50,100, 0/3 failures" in _ok(folder, "deployments")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("deploy", "houses", "7"), 1, "model 'houses' has no version 7; its versions: 1, 2"),
        (("deploy", "houses", "2", "--strategy", "canry"), 1, "did you mean 'canary'"),
        (("rollback", "houses"), 1, "nothing to roll back"),
        (("deploy", "houses"), 2, "give a VERSION to deploy, or --percent"),
        (("deploy", "houses", "2", "--interval", "soon"), 2, "is not a duration"),
    ],
)
def test_refusals_name_the_problem_and_change_nothing(
    folder: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    result = run_cli(*args, cwd=folder)
    assert result.returncode == code, result.stdout + result.stderr
    assert words in " ".join(result.stderr.split())
    with Project.open(folder) as project:
        assert project.deployments.history("houses") == []
        assert project.registry.resolve("houses@production").version == 1
