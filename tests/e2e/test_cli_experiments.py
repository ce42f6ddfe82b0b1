"""Tracked runs from scripts, as a user writes them: real processes that exit, fail or are
killed, and ``shipyard runs`` reading what they left."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard import Project
from tests.helpers import make_table, run_cli

NOTEBOOK = """
import shipyard
from sklearn.linear_model import Ridge
import pandas as pd

frame = pd.read_csv("houses.csv")
features = ["size", "rooms"]
for alpha in (0.01, 100.0, 10000.0):
    with shipyard.start_run("ridge", f"alpha {alpha}", data=["houses.csv"]) as run:
        shipyard.log_param("alpha", alpha)
        model = Ridge(alpha=alpha).fit(frame[features], frame["price"])
        shipyard.log_metric("r2", model.score(frame[features], frame["price"]))
        for step in range(100):
            shipyard.log_metric("loss", 1 / (step + 1 + alpha), step=step)
        run.log_model(model, data=frame[features + ["price"]], target="price", register="ridge")
        print(run.id)
"""


def run_script(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    (folder / "script.py").write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, "script.py"], cwd=folder, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def folder(project: Project) -> Path:
    make_table(200, seed=11).to_csv(project.root / "houses.csv", index=False)
    return project.root


def test_a_notebook_tracks_three_runs_and_compares_them(folder: Path, project: Project) -> None:
    done = run_script(folder, NOTEBOOK)
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()

    listed = run_cli("runs", "--experiment", "ridge", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    for alpha in ("alpha 0.01", "alpha 100.0", "alpha 10000.0"):
        assert alpha in listed.stdout
    assert "r2" in listed.stdout and "loss" in listed.stdout

    compared = run_cli("runs", "--compare", *ids, cwd=folder)
    assert compared.returncode == 0, compared.stderr
    r2 = [line for line in compared.stdout.splitlines() if "metric r2" in line][0]
    scores = [float(cell) for cell in r2.split("│")[2:5]]
    assert scores[0] > scores[1] > scores[2]  # more regularisation, worse fit
    assert "data log_dataset houses.data" in compared.stdout

    assert [v.version for v in project.registry.versions("ridge")] == [3, 2, 1]
    detail = run_cli("runs", ids[0], cwd=folder)
    assert "tracked" in detail.stdout and "param" in detail.stdout


def test_values_are_written_when_the_interpreter_exits_without_ending_the_run(
    folder: Path, project: Project
) -> None:
    done = run_script(
        folder,
        """
        import shipyard
        run = shipyard.start_run("exits")
        for i in range(30_000):
            shipyard.log_metric("x", i, step=i)
        print(run.id)
        """,
    )
    assert done.returncode == 0, done.stderr
    run_id = int(done.stdout)
    assert project.run_record(run_id).status == "succeeded"
    assert len(project.metric_history(run_id, "x")) == 30_000


def test_an_uncaught_error_fails_the_run_at_exit(folder: Path, project: Project) -> None:
    done = run_script(
        folder,
        """
        import shipyard
        run = shipyard.start_run("exits")
        print(run.id, flush=True)
        shipyard.log_metric("before", 1.0)
        raise RuntimeError("the data ran out")
        """,
    )
    assert done.returncode == 1
    record = project.run_record(int(done.stdout))
    assert record.status == "failed"
    assert "RuntimeError: the data ran out" in (record.error or "")
    assert project.run_values(record.id).metrics == {"before": 1.0}


def test_a_killed_process_leaves_a_crashed_run_with_what_was_flushed(
    folder: Path, project: Project
) -> None:
    done = run_script(
        folder,
        f"""
        import os, signal, shipyard
        run = shipyard.start_run("killed")
        print(run.id, flush=True)
        shipyard.log_metric("kept", 1.0)
        run.flush()
        shipyard.log_metric("lost", 2.0)
        os.kill(os.getpid(), {signal.SIGKILL})
        """,
    )
    assert done.returncode == -signal.SIGKILL
    run_id = int(done.stdout)
    assert project.run_record(run_id).status == "running"

    listed = run_cli("runs", "--experiment", "killed", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert "crashed" in listed.stdout
    record = project.run_record(run_id)
    assert (record.status, record.error) == ("crashed", "the runner process died")
    assert project.run_values(run_id).metrics == {"kept": 1.0}
