"""The infra probe: a package loaded and served in a process that never held it, either
started for the probe or waiting for it as a standby; no process outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from shipyard.data.schema import Schema
from shipyard.data.transform import TransformLearner
from shipyard.modeling import write_package
from shipyard.modeling.infra import InfraReport, ProbeStandby, probe_in_fresh_process
from tests.helpers import process_ended, wait_for

ROWS = [{"x": float(x), "z": float(x) / 2} for x in range(10)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = pd.DataFrame({"x": np.linspace(0, 10, 200), "z": np.linspace(0, 5, 200)})
    fitted = TransformLearner().fit(frame)
    target = np.linspace(0, 30, 200)
    estimator = HistGradientBoostingRegressor(max_iter=5).fit(fitted.transform_frame(frame), target)
    folder = tmp_path_factory.mktemp("infra") / "model"
    write_package(
        folder,
        estimator=estimator,
        transform=fitted,
        schema=Schema(),
        task="regression",
        target="y",
        estimator_path="sklearn.ensemble.HistGradientBoostingRegressor",
        params={"max_iter": 5},
    )
    return folder


def assert_served(report: InfraReport, requests: int) -> None:
    assert report.loaded, report.error
    assert report.requests == requests
    assert report.load_seconds is not None and report.load_seconds > 0
    assert report.p50_ms is not None and report.p99_ms is not None
    assert 0 < report.p50_ms <= report.p99_ms


def test_a_fresh_process_loads_and_serves_the_package(package: Path) -> None:
    assert_served(probe_in_fresh_process(package, ROWS, requests=15), 15)
    assert not list(package.parent.glob(".infra-rows-*"))


def test_a_standby_serves_one_probe_and_ends(package: Path) -> None:
    standby = ProbeStandby.start()
    try:
        report = probe_in_fresh_process(package, ROWS, requests=15, standby=standby.address)
        assert_served(report, 15)
        assert standby.process.wait(timeout=60) == 0
        # Used once: a second probe (a retry) gets a process of its own.
        again = probe_in_fresh_process(package, ROWS, requests=5, standby=standby.address)
        assert_served(again, 5)
    finally:
        standby.close()
    assert not Path(standby.address).parent.exists()


def test_a_standby_reports_a_damaged_package_as_a_fresh_process_does(
    package: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for part in package.iterdir():
        (damaged / part.name).write_bytes(part.read_bytes())
    (damaged / "model.skops").write_bytes(b"not a model")
    fresh = probe_in_fresh_process(damaged, ROWS, requests=5)
    standby = ProbeStandby.start()
    try:
        waiting = probe_in_fresh_process(damaged, ROWS, requests=5, standby=standby.address)
    finally:
        standby.close()
    assert not fresh.loaded and not waiting.loaded
    assert fresh.error is not None and fresh.error.startswith("shipyard.errors.ArtifactError")
    assert waiting.error == fresh.error


def test_closing_an_unused_standby_ends_it_at_once() -> None:
    standby = ProbeStandby.start()
    started = time.monotonic()
    standby.close()
    assert time.monotonic() - started < 5
    assert process_ended(standby.process.pid)
    assert not Path(standby.address).parent.exists()


def test_a_standby_ends_when_the_process_that_started_it_is_killed() -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from shipyard.modeling.infra import ProbeStandby; "
            "standby = ProbeStandby.start(); "
            "print(standby.process.pid, standby.address, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as owner:
        assert owner.stdout is not None
        pid, address = owner.stdout.readline().split()
        os.kill(owner.pid, signal.SIGKILL)
    # It notices when its imports are done; a loaded machine makes those slow.
    assert wait_for(lambda: process_ended(int(pid)), seconds=120)
    assert not Path(address).parent.exists()
