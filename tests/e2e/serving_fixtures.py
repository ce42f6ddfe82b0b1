"""A trained project and a real server process on a loopback port, for the server tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from tests.helpers import SHIPYARD, make_table, warm_pool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def trained_project(folder: Path, *, task: str = "regression", max_iter: int = 30) -> Path:
    folder.mkdir(parents=True)
    target = "price" if task == "regression" else "expensive"
    make_table(400, seed=1, task=task).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target=target).close()
    configure(folder, max_iter=max_iter)
    with Project.open(folder) as project:
        project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    return folder


def trained_twice(folder: Path, *, task: str = "regression") -> Path:
    """A project whose model has versions 1 (production) and 2, both blessed."""
    trained_project(folder, task=task, max_iter=5)
    configure(folder, max_iter=8)
    with Project.open(folder) as project:
        project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
        project.registry.promote(folder.name, 1, reason="the first version serves")
    return folder


def configure(folder: Path, *, max_iter: int) -> None:
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["model"]["params"] = {"max_iter": max_iter}
    settings["infra"]["requests"] = 20
    settings["infra"]["max_p99_ms"] = 2000
    settings["evaluation"]["change_thresholds"] = {}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    url: str
    folder: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


def start_server(folder: Path, *extra: str) -> RunningServer:
    return wait_ready(launch_server(folder, *extra))


def launch_server(folder: Path, *extra: str) -> RunningServer:
    """``shipyard serve`` started in ``folder``, not yet ready (``wait_ready``)."""
    port = free_port()
    process = subprocess.Popen(
        [SHIPYARD, "serve", "--port", str(port), "--reload-seconds", "0.5", *extra],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    return RunningServer(process, f"http://127.0.0.1:{port}", folder)


def wait_ready(server: RunningServer) -> RunningServer:
    """``server`` once it answers ready; an error if it exits or is not ready in 60 s."""
    process = server.process
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{server.url}/v2/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("the server did not become ready within 60 s")


def served(folder: Path, *extra: str) -> Iterator[RunningServer]:
    server = start_server(folder, *extra)
    try:
        yield server
    finally:
        server.stop()


def rows(count: int, *, seed: int = 7, task: str = "regression") -> list[dict[str, object]]:
    frame = make_table(count, seed=seed, task=task)
    frame = frame.drop(columns=["price" if task == "regression" else "expensive"])
    return [
        {k: (None if v != v else v) for k, v in row.items()}  # NaN -> null
        for row in frame.astype(object).to_dict(orient="records")
    ]
