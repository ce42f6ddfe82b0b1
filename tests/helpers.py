"""Helpers the tests share: the installed command, synthetic tables, factory types.

Fixtures live in the ``conftest.py`` files; plain functions and names that tests import
live here, so that no test imports from a conftest.
"""

from __future__ import annotations

import atexit
import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard import Project
from shipyard.pipeline import LocalExecutor

SHIPYARD = str(Path(sys.executable).with_name("shipyard"))

MakeProject = Callable[..., Project]
MakeStandardProject = Callable[..., Project]


@functools.cache
def warm_pool() -> LocalExecutor:
    """This test process's pool of pipeline workers, kept across runs (``Project.run``'s
    ``executor``): its workers import scikit-learn, pandas and the standard components
    once, not once per run, which is most of a small run's CPU time.

    Only for runs of shipyard's components and the tests' own, with no environment
    variable set for the steps after the pool started: its workers keep the modules and
    the environment they started with.
    """
    pool = LocalExecutor(2)
    atexit.register(pool.shutdown)
    return pool


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` is gone, or a zombie its parent has not reaped (Linux)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_for(condition: Callable[[], bool], *, seconds: float = 30.0) -> bool:
    """Whether ``condition()`` holds within ``seconds`` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``shipyard`` command as a user would (``input``: what they type)."""
    return subprocess.run(
        [SHIPYARD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def run_python(
    script: str, *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter of this environment: what a process loads
    and leaves behind is seen only from a process of its own."""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def make_table(rows: int = 600, *, seed: int = 0, task: str = "regression") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, rows)
    rooms = rng.integers(1, 8, rows)
    age = rng.uniform(0, 80, rows)
    age[rng.random(rows) < 0.1] = np.nan
    area = rng.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    heating = rng.choice(["gas", "electric", None], rows, p=[0.6, 0.3, 0.1])
    price = 1000 * size + 5000 * rooms - 300 * np.nan_to_num(age, nan=40.0)
    price += np.where(area == "north", 40_000, 0) + rng.normal(0, 5000, rows)
    frame = pd.DataFrame(
        {"size": size, "rooms": rooms, "age": age, "area": area, "heating": heating}
    )
    if task == "regression":
        frame["price"] = price
    else:
        frame["expensive"] = np.where(price > np.median(price), "yes", "no")
    return frame


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server and the account the tests use on it."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point S3 clients (s3fs, boto3) at it."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
