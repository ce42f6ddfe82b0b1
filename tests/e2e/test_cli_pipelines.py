"""The pipeline commands, run as a user runs them: the installed CLI in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from shipyard import Project
from shipyard.store.tables import ArtifactRow, ExecutionRow
from tests.helpers import SHIPYARD, run_cli

PIPELINE = textwrap.dedent(
    """
    import json, os, time
    from pathlib import Path
    from shipyard import Component, Dataset, Input, Metrics, Output, Pipeline, component

    @component
    def generate(numbers: Output[Dataset], *, count: int = 100) -> None:
        numbers.path.write_text(json.dumps(list(range(count))))

    @component
    def scale(numbers: Input[Dataset], scaled: Output[Dataset], *, factor: float = 2.0) -> None:
        if os.environ.get("PIPELINE_BREAK") == "scale":
            raise ValueError("scale was told to break")
        gate = os.environ.get("PIPELINE_GATE")
        if gate:
            Path(gate + ".started").write_text(str(os.getpid()))
            while not Path(gate).exists():
                time.sleep(0.05)
        values = json.loads(numbers.path.read_text())
        scaled.path.write_text(json.dumps([v * factor for v in values]))

    class Summarise(Component):
        numbers: Input[Dataset]
        summary: Output[Metrics]

        def run(self) -> None:
            values = json.loads(self.numbers.path.read_text())
            self.summary.path.write_text(json.dumps({"total": sum(values)}))

    def pipeline():
        factor = float(os.environ.get("PIPELINE_FACTOR", "2"))
        numbers = generate(count=100)
        scaled = scale(numbers=numbers.outputs.numbers, factor=factor)
        return Pipeline("demo", [numbers, scaled, Summarise(numbers=scaled.outputs.scaled)])
    """
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "flow.py").write_text(PIPELINE)
    result = run_cli("init", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


def test_init_creates_a_project(folder: Path) -> None:
    assert "\nname: proj\n" in (folder / "shipyard.yaml").read_text()
    assert (folder / ".shipyard" / "metadata.db").is_file()
    again = run_cli("init", cwd=folder)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"error: {folder / 'shipyard.yaml'} already exists; this folder is already a project"
    ]


def test_run_rerun_runs_and_lineage(folder: Path) -> None:
    first = run_cli("run", "flow.py:pipeline", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert "run 1 succeeded" in first.stdout and "3 ran, 0 cached" in first.stdout

    second = run_cli("run", "flow.py:pipeline", cwd=folder)
    assert second.returncode == 0, second.stderr
    assert "0 ran, 3 cached" in second.stdout

    third = run_cli("run", "flow.py:pipeline", cwd=folder, env={"PIPELINE_FACTOR": "3"})
    assert "2 ran, 1 cached" in third.stdout

    listing = run_cli("runs", cwd=folder)
    assert listing.returncode == 0
    assert [
        line.split("│")[1].strip() for line in listing.stdout.splitlines() if "│ demo" in line
    ] == [
        "3",
        "2",
        "1",
    ]
    detail = run_cli("runs", "2", cwd=folder)
    assert "cache hit of execution 1" in detail.stdout
    tree = run_cli("lineage", "run:1", cwd=folder)
    lines = tree.stdout.splitlines()
    assert lines[0] == "run 1"
    assert [line.split("step ")[1].split()[0] for line in lines if "step " in line] == [
        "Summarise",
        "scale",
        "generate",
    ]
    down = run_cli("lineage", "artifact:1", "--downstream", cwd=folder)
    assert down.returncode == 0
    assert "step scale" in down.stdout and "step Summarise" in down.stdout


def test_failing_step_exits_nonzero_and_rerun_resumes(folder: Path) -> None:
    broken = run_cli("run", "flow.py:pipeline", cwd=folder, env={"PIPELINE_BREAK": "scale"})
    assert broken.returncode == 1
    assert "error: step 'scale' failed: ValueError: scale was told to break" in broken.stderr
    detail = run_cli("runs", "1", cwd=folder)
    assert "Traceback" in detail.stdout and "scale was told to break" in detail.stdout

    fixed = run_cli("run", "flow.py:pipeline", cwd=folder)
    assert fixed.returncode == 0
    assert "2 ran, 1 cached" in fixed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "42"], "error: run 42 does not exist; `shipyard runs` lists runs"),
        (["lineage", "artifact:9"], "error: artifact 9 does not exist"),
        (["lineage", "what?"], "error: cannot understand reference 'what?'"),
        (["run", "flow.py:nothing"], "error: flow.py has no attribute 'nothing'"),
        (["run", "missing.py:p"], "error: pipeline file"),
    ],
)
def test_errors_are_one_line_and_exit_one(folder: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(message)


def test_outside_a_project(tmp_path: Path) -> None:
    result = run_cli("runs", cwd=tmp_path)
    assert result.returncode == 1
    assert "no shipyard.yaml in" in result.stderr and "shipyard init" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "not-a-number"], "Invalid value for 'run_ids'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["run", "no-colon"], "'no-colon' is not MODULE:PIPELINE"),
        (["runs", "1", "2"], "add --compare to see several side by side"),
        (["runs", "--compare", "1"], "give at least two run ids to compare"),
        (["models", "show", "no good"], "'no good' is not a model reference"),
        (["init", "--target", "price"], "Invalid value for --target: describes the data"),
        (["init", "--task", "regression"], "Invalid value for --task: describes the data"),
        (["init", "--data", "houses.csv"], "needs --target, the column the model predicts"),
    ],
)
def test_usage_errors_exit_two(folder: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, cwd=folder)

    assert result.returncode == 2, result.stderr
    assert "Usage: shipyard" in result.stderr
    assert message in " ".join(result.stderr.replace("│", " ").split())


@pytest.mark.parametrize(
    "command",
    [
        "init",
        "run",
        "runs",
        "lineage",
        "quickstart",
        "datasets",
        "models",
        "promote",
        "predictions",
    ],
)
def test_every_command_has_help(folder: Path, command: str) -> None:
    result = run_cli(command, "--help", cwd=folder)
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def _wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigkill_mid_step_then_rerun_completes(folder: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    runner = subprocess.Popen(
        [SHIPYARD, "run", "flow.py:pipeline"],
        cwd=folder,
        env={**os.environ, "PIPELINE_GATE": str(gate)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = Path(str(gate) + ".started")
    _wait_for(started)
    worker = int(started.read_text())
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    # The worker dies with its runner instead of lingering.
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists() or sys.platform != "linux"

    again = run_cli("run", "flow.py:pipeline", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert "2 ran, 1 cached" in again.stdout

    with Project.open(folder) as project:
        killed = project.run_record(1)
        assert (killed.status, killed.error) == ("crashed", "the runner process died")
        steps = {s.step: s for s in project.run_steps(1)}
        assert steps["scale"].status == "failed" and steps["scale"].outputs == {}
        engine = create_engine(project.store.database.url)
        with engine.connect() as connection:
            digests = connection.execute(select(ArtifactRow.digest)).scalars().all()
            running = connection.execute(
                select(func.count()).where(ExecutionRow.status == "running")
            ).scalar()
        engine.dispose()
        assert len(digests) == len(set(digests)) == 3
        assert running == 0
        for digest in digests:
            project.artifacts.read_bytes(digest)  # complete and verified
        objects = list((folder / ".shipyard" / "artifacts" / "objects").rglob("*"))
        assert len([p for p in objects if p.is_file()]) == 3


def test_two_processes_share_one_sqlite_project(folder: Path) -> None:
    processes = [
        subprocess.Popen(
            [SHIPYARD, "run", "flow.py:pipeline", "--no-cache"],
            cwd=folder,
            env={**os.environ, "PIPELINE_FACTOR": str(factor)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for factor in (2, 3, 4, 5)
    ]
    outcomes = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert "succeeded" in out
    with Project.open(folder) as project:
        runs = project.runs()
        assert sorted(r.status for r in runs) == ["succeeded"] * 4
        assert all(len(project.run_steps(r.id)) == 3 for r in runs)
