"""The quickstart: a project made from the bundled Ames house prices.

``create_quickstart(folder)`` copies the data into ``folder/data/`` and writes a
``shipyard.yaml`` for predicting ``Sale_Price``; run its standard pipeline and the loop
has turned once.  Re-creating it over an earlier quickstart keeps that project (and its
cache, registry and history).
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.config import CONFIG_FILE, render_config
from shipyard.demo_data import AMES_FILE, AMES_TARGET, ames_path
from shipyard.errors import ConfigError, ServingError
from shipyard.project import Project

__all__ = ["ServedExample", "create_quickstart", "serve_examples"]

QUICKSTART_SLICES = ["Bldg_Type"]


def create_quickstart(folder: Path) -> Project:
    """The quickstart project in ``folder``: opened if it exists, else created."""
    folder = folder.resolve()
    if (folder / CONFIG_FILE).exists():
        project = Project.open(folder)
        if project.config.data is None or project.config.data.target != AMES_TARGET:
            project.close()
            raise ConfigError(f"{folder} holds another project; give the quickstart a new folder")
        return project
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty; give the quickstart a new or empty folder")
    (folder / "data").mkdir(parents=True)
    data = folder / "data" / AMES_FILE
    shutil.copyfile(ames_path(), data)
    project = Project.init(
        folder, name=folder.name, data=data, target=AMES_TARGET, task="regression"
    )
    # Per-slice metrics by building type: the gate still judges the whole eval split.
    project.config.evaluation.slices = list(QUICKSTART_SLICES)
    (folder / CONFIG_FILE).write_text(render_config(project.config))
    project.close()
    return Project.open(folder)


@dataclass(frozen=True)
class ServedExample:
    """One eval row sent to the demo server: its prediction, id and the true price."""

    prediction_id: str
    predicted: float
    actual: float
    version: int


def serve_examples(project: Project, *, rows: int = 5, feedback: int = 3) -> list[ServedExample]:
    """Start the server on a free loopback port, predict eval rows, send feedback, stop.

    The requests go over HTTP to a real uvicorn server, as a client's would; feedback is
    sent for the first ``feedback`` predictions with the houses' true prices.
    """
    import uvicorn

    from shipyard.components.ingestion import read_split
    from shipyard.serving.app import create_app

    production = project.registry.resolve(f"{project.config.model_name}@production")
    run = project.run_steps(production.run_id or 0)
    examples = next(e.outputs["examples"] for e in run if "examples" in e.outputs)
    frame = read_split(project.artifacts.materialize(examples.digest, "dir"), "eval").head(rows)
    actual = frame.pop(AMES_TARGET).tolist()
    instances = json.loads(frame.to_json(orient="records"))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(project.root), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base)
        answer = _post(f"{base}/predict", {"instances": instances})
        items = [
            {"prediction_id": pid, "label": label}
            for pid, label in zip(answer["prediction_ids"][:feedback], actual, strict=False)
        ]
        _post(f"{base}/feedback", {"feedback": items})
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return [
        ServedExample(pid, float(value), float(truth), answer["version"])
        for pid, value, truth in zip(
            answer["prediction_ids"], answer["predictions"], actual, strict=True
        )
    ]


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServingError(f"the demo server at {base} did not become ready in {timeout:.0f} s")
