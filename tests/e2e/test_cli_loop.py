"""The loop as an operator meets it: `shipyard monitor` passes, one killed with SIGKILL
in the middle of a retrain, `shipyard loop history`, `shipyard approve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shipyard import Project
from tests.helpers import SHIPYARD, run_cli
from tests.loop.traffic import drifted, loop_project
from tests.monitoring.traffic import MODEL, hours_ago, serve

pytestmark = pytest.mark.slow


def test_a_pass_killed_while_retraining_is_finished_by_the_next(
    classifier: Path, tmp_path: Path
) -> None:
    folder = loop_project(classifier, tmp_path / "p")
    with Project.open(folder) as project:
        frame, labels = drifted(3000, seed=12)
        serve(project, frame, start=hours_ago(2), labels=labels)

    killed = subprocess.Popen(
        [SHIPYARD, "monitor"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        with Project.open(folder) as project:
            while not project.store.loop.runs(MODEL):
                assert killed.poll() is None, killed.stderr.read() if killed.stderr else ""
                assert time.monotonic() < deadline, "the pass never started a retrain"
                time.sleep(0.05)
        time.sleep(1.0)  # into the retrain's pipeline run
        os.kill(killed.pid, signal.SIGKILL)
        assert killed.wait(timeout=30) == -signal.SIGKILL
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
        if killed.stderr is not None:
            killed.stderr.close()
    with Project.open(folder) as project:
        [run] = project.store.loop.runs(MODEL)
        assert run.status == "triggered"  # killed before the retrain was recorded

    finished = run_cli("monitor", "--format", "json", cwd=folder)
    assert finished.returncode == 0, finished.stderr
    steps = [event["step"] for event in json.loads(finished.stdout)["loop"]]
    assert steps == ["trained", "gated", "canary"]
    with Project.open(folder) as project:
        assert sorted(v.version for v in project.registry.versions(MODEL)) == [1, 2]  # once
        [run] = project.store.loop.runs(MODEL)
        assert (run.status, run.version) == ("canary", 2)

    history = run_cli("loop", "history", MODEL, cwd=folder)
    assert history.returncode == 0, history.stderr
    for step in ("triggered", "trained", "gated", "canary"):
        assert step in history.stdout
    refused = run_cli("approve", MODEL, cwd=folder)
    assert refused.returncode == 1
    assert "nothing of 'houses' awaits approval (its retrain is canary)" in refused.stderr
