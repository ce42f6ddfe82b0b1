from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from shipyard import Pipeline, Project
from shipyard.pipeline.executors import THREAD_VARIABLES, LocalExecutor, cores, start_method
from tests.helpers import MakeProject
from tests.pipeline import components as c


def test_a_process_with_other_threads_spawns_its_workers() -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert start_method() == "spawn"
    finally:
        stop.set()
        helper.join()


def test_a_single_threaded_process_forks_its_workers() -> None:
    code = "from shipyard.pipeline.executors import start_method; print(start_method())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "fork"


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_share_the_cores_among_their_native_threads(
    make_project: MakeProject, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in THREAD_VARIABLES:  # as a user who chose none (the suite chooses)
        monkeypatch.delenv(name, raising=False)
    project = make_project(workers=workers)
    result = project.run(Pipeline("threads", [c.native_threads()]), cache=False)

    report = result.output("native_threads", "report")
    threads = json.loads(project.artifacts.read_bytes(report.digest))
    assert threads and set(threads) == {max(1, cores() // workers)}


def test_a_thread_count_the_user_chose_is_kept(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    result = project.run(Pipeline("threads", [c.native_threads()]), cache=False)

    report = result.output("native_threads", "report")
    assert set(json.loads(project.artifacts.read_bytes(report.digest))) == {3}


def test_a_step_runs_in_the_worker_that_loaded_its_imports_ahead(
    make_project: MakeProject,
) -> None:
    project = make_project(workers=2)
    first = c.whoami()
    result = project.run(Pipeline("ahead", [first, c.LoadsAhead(numbers=first.outputs["numbers"])]))

    result.raise_for_failure()
    before = json.loads(project.artifacts.read_bytes(result.output("whoami", "numbers").digest))
    report = json.loads(project.artifacts.read_bytes(result.output("LoadsAhead", "report").digest))
    # The other worker imported the module while the first step ran, and got the step.
    assert report == {"pid": report["pid"], "loaded": True}
    assert report["pid"] != before["pid"]


def test_shutting_down_stops_loading_modules_ahead() -> None:
    pool = LocalExecutor(2)
    pool.prepare(["tests.pipeline.slow_to_import"])
    started = time.monotonic()
    pool.shutdown()
    assert time.monotonic() - started < 20
