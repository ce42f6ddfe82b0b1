"""``shipyard deployments show`` and ``shipyard deployments analyze [--watch]`` as a user
runs them; the analyser killed with SIGKILL mid-rollout and restarted carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard import Project
from tests.deployments.traffic import Arm, analysed_copy, serve
from tests.helpers import SHIPYARD, run_cli

PRIMARY = Arm(1, noise=5_000, latency_ms=2)
GOOD = Arm(2, noise=5_000, latency_ms=2.5)


@pytest.fixture
def folder(two_versions: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy with version 1 in production and checks on 20 answers per arm."""
    yield analysed_copy(two_versions, tmp_path / "houses")


def test_show_compares_the_arms_as_a_table_and_as_json(folder: Path) -> None:
    deployed = run_cli("deploy", "houses", "2", "--percent", "50", cwd=folder)
    assert deployed.returncode == 0, deployed.stderr
    with Project.open(folder) as project:
        deployment = project.deployments.current("houses")
        assert deployment is not None
        serve(project, primary=PRIMARY, candidate=Arm(2, bias=20_000), requests=40, seed=1,
              deployment_id=deployment.id, labels=True)  # fmt: skip

    table = run_cli("deployments", "show", "houses", cwd=folder)
    assert table.returncode == 0, table.stderr
    assert "canary v2 at 50% beside v1" in table.stdout
    assert "primary v1" in table.stdout and "candidate v2" in table.stdout
    assert "on the 40 requests both answered" in table.stdout
    assert "rmse" in table.stdout

    shown = run_cli("deployments", "show", "houses", "--format", "json", cwd=folder)
    payload = json.loads(shown.stdout)
    assert payload["candidate"]["requests"] == 40 and payload["primary"]["answers"] == 80
    assert payload["agreement"]["pairs"] == 40 and payload["last_analysis"] is None
    assert payload["candidate"]["metrics"]["rmse"] > 3 * payload["primary"]["metrics"]["rmse"]


def test_show_and_analyze_name_what_is_wrong(folder: Path) -> None:
    unknown = run_cli("deployments", "show", "nope", cwd=folder)
    assert unknown.returncode == 1 and "no model named 'nope'" in unknown.stderr
    never = run_cli("deployments", "show", "houses", cwd=folder)
    assert never.returncode == 1 and "'houses' has never been deployed" in never.stderr
    bad_since = run_cli("deployments", "show", "houses", "--since", "yesterday", cwd=folder)
    assert bad_since.returncode == 2 and "'yesterday' is neither" in bad_since.stderr
    idle = run_cli("deployments", "analyze", cwd=folder)
    assert idle.returncode == 0 and "no analysed canary is due" in idle.stdout


def test_one_pass_prints_and_records_the_decision(folder: Path) -> None:
    deployed = run_cli(
        "deploy", "houses", "2", "--steps", "5,100", "--interval", "0.2s", cwd=folder
    )
    assert deployed.returncode == 0, deployed.stderr
    time.sleep(0.3)
    waited = run_cli("deployments", "analyze", "houses", cwd=folder)
    assert waited.returncode == 0, waited.stderr
    assert "houses (deployment 1): wait at 5%" in waited.stdout
    assert "error_rate" in waited.stdout and "the candidate has served 0 of the 20" in waited.stdout
    status = json.loads(run_cli("deployments", "houses", "--format", "json", cwd=folder).stdout)
    assert [e["action"] for e in status["history"]] == ["deploy", "wait"]


def _watch(folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [SHIPYARD, "deployments", "analyze", "--watch", "--poll", "0.2s", "--lease", "1s",
         "--format", "json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )  # fmt: skip


def _feed_until(project: Project, done: Callable[[], bool], *, seed: int, timeout: float) -> None:
    """Log canary traffic in small batches until ``done`` (each window sees enough)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the analysis did not get there in time"
        current = project.deployments.current("houses")
        if current is not None:
            serve(project, primary=PRIMARY, candidate=GOOD, requests=25, seed=seed,
                  deployment_id=current.id)  # fmt: skip
        seed += 1
        time.sleep(0.3)


@pytest.mark.slow
def test_a_killed_analyser_restarted_carries_on_from_the_stored_step(folder: Path) -> None:
    deployed = run_cli(
        "deploy", "houses", "2", "--steps", "5,25,50,100", "--interval", "0.5s",
        "--max-failures", "2", cwd=folder,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    with Project.open(folder) as project:

        def step() -> int:
            current = project.deployments.current("houses")
            return -1 if current is None else int(current.analysis["step"])  # type: ignore[index]

        first = _watch(folder)
        try:
            _feed_until(project, lambda: step() >= 1, seed=0, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        reached = step()
        assert reached >= 1
        time.sleep(1.0)  # as if the restart took a while; nothing moves meanwhile
        assert step() == reached

        second = _watch(folder)
        try:
            _feed_until(project, lambda: step() == -1, seed=100, timeout=90)
        finally:
            second.terminate()
            out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err.decode()
        decisions = [json.loads(line) for line in out.decode().splitlines()]
        assert decisions[-1]["outcome"] == "promote"
        assert project.registry.resolve("houses@production").version == 2
        history = project.deployments.history("houses")
    moves = [(e.action, e.after["percent"]) for e in history if e.action != "wait"]  # type: ignore[index]
    assert moves == [
        ("deploy", 5), ("advance", 25), ("advance", 50), ("advance", 100), ("promote", 100),
    ]  # fmt: skip
    analysers = {e.details["analyser"] for e in history if "analyser" in e.details}
    assert len(analysers) == 2  # the second process carried on where the first stopped
