"""The quickstart: the whole loop turned once on the bundled Ames house prices.

``create_quickstart(folder)`` writes a project whose data is the houses sold in
2006–2008 (``data/ames.csv.gz``), and keeps the houses sold later, in the order they
sold, in ``data/ames-later.csv.gz``: the world the model meets after training.
``turn_the_loop`` then plays it: the model serves the houses of 2009 over HTTP and their
true prices come back as feedback; a monitoring pass sees the change and the loop
retrains on the new labels, judges the retrain on labels held back from it, and rolls it
out as a canary that the houses of 2010 are served through, until the canary analysis
promotes it or rolls it back.  Re-creating it over an earlier quickstart keeps that
project (and its cache, registry and history).
"""

from __future__ import annotations

import csv
import gc
import gzip
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config import CONFIG_FILE, render_config
from shipyard.demo_data import AMES_FILE, AMES_TARGET, ames_path
from shipyard.errors import ConfigError, ServingError
from shipyard.project import Project

__all__ = ["LATER_FILE", "LoopTurned", "create_quickstart", "turn_the_loop"]

QUICKSTART_SLICES = ["Bldg_Type"]
TRAINED_UNTIL = 2008
"""The first model learns from the houses sold up to this year."""
LATER_FILE = "ames-later.csv.gz"
SERVED_FIRST = 2009
"""The year whose houses are served and labelled before monitoring looks."""
CANARY_BATCH = 60
"""Houses served through the canary between two looks of its analysis."""
# The demo's own settings: windows of a few hundred houses, a canary judged on dozens.
DEMO_SETTINGS: dict[str, Any] = {
    "monitoring": {"window": "300", "min_count": 100},
    # A few hundred house prices cannot show a gain of some percent at 95% confidence
    # (their errors are heavy-tailed); the canary's feedback judges the retrain again.
    "loop": {
        "enabled": True,
        "min_interval": "1m",
        "confidence": 0.8,
        "triggers": {"new_data": False},
    },
    "deployments": {
        "steps": [50.0, 100.0],
        "interval_seconds": 0.5,
        "checks": {"min_requests": 20, "min_labels": 20},
    },
}


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
    _split_by_sale(ames_path(), earlier=data, later=folder / "data" / LATER_FILE)
    project = Project.init(
        folder, name=folder.name, data=data, target=AMES_TARGET, task="regression"
    )
    # Per-slice metrics by building type: the gate still judges the whole eval split.
    project.config.evaluation.slices = list(QUICKSTART_SLICES)
    settings = project.config.model_dump(mode="json", exclude_unset=False)
    for section, values in DEMO_SETTINGS.items():
        settings[section] = _merged(settings.get(section) or {}, values)
    config = type(project.config).model_validate(settings)
    (folder / CONFIG_FILE).write_text(render_config(config))
    project.close()
    return Project.open(folder)


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def _split_by_sale(source: Path, *, earlier: Path, later: Path) -> None:
    """Copy the rows of houses sold up to ``TRAINED_UNTIL`` to ``earlier`` as they are,
    and the others to ``later`` in the order they sold (year, then month)."""
    with gzip.open(source, "rt", newline="") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    year, month = header.index("Year_Sold"), header.index("Mo_Sold")
    before = [row for row in body if int(row[year]) <= TRAINED_UNTIL]
    after = sorted(
        (row for row in body if int(row[year]) > TRAINED_UNTIL),
        key=lambda row: (int(row[year]), int(row[month])),
    )
    for path, chosen in ((earlier, before), (later, after)):
        with gzip.open(path, "wt", newline="") as stream:
            csv.writer(stream, lineterminator="\n").writerows([header, *chosen])


@dataclass
class LoopTurned:
    """What the demo did: each thing said, and the versions and errors at the end."""

    said: list[str] = field(default_factory=list)
    served: int = 0
    prediction_id: str = ""
    """One answer of the first model, to follow back to its data."""
    first_version: int = 0
    production_version: int = 0
    rmse: dict[int, float] = field(default_factory=dict)
    """RMSE of each version on the houses sold in 2010, by version."""


def turn_the_loop(project: Project, *, say: Callable[[str], None]) -> LoopTurned:
    """Serve the later houses and let monitoring passes turn the loop; ``say`` hears
    the story as it happens."""
    import pandas as pd

    turned = LoopTurned()

    def tell(line: str) -> None:
        turned.said.append(line)
        say(line)

    model = project.config.model_name
    turned.first_version = project.registry.resolve(f"{model}@production").version
    later = pd.read_csv(project.root / "data" / LATER_FILE, keep_default_na=False, na_values=[""])
    first = later[later["Year_Sold"] == SERVED_FIRST]
    rest = later[later["Year_Sold"] > SERVED_FIRST]
    with _server(project) as base:
        tell(f"serving: {model}:{turned.first_version} at {base}")
        turned.prediction_id = _serve(base, first)[0]
        turned.served += len(first)
        tell(
            f"served {len(first)} houses sold in {SERVED_FIRST}, one request each, and sent "
            "their true prices back as feedback"
        )
        result = project.monitor_pass()
        for window in result.windows:
            drifted = window.result["drifted"]
            realised = (window.result["performance"] or {}).get("rmse")
            shown = ", ".join(drifted[:4]) + (
                f" and {len(drifted) - 4} more" if len(drifted) > 4 else ""
            )
            tell(
                f"monitoring: window of {window.count} predictions: "
                + (f"{len(drifted)} features drifted ({shown})" if drifted else "no drift")
                + ("" if realised is None else f"; RMSE {realised['value']:,.0f} on feedback")
            )
        for alert in (a for m in result.models for a in m.opened):
            tell(f"alert opened [{alert.severity}] {alert.rule}")
        for event in result.loop:
            tell(f"loop: {event.step} — {event.reason}")
        position = 0
        while project.store.deployments.active(model) and position < len(rest):
            batch = rest.iloc[position : position + CANARY_BATCH]
            position += len(batch)
            _serve(base, batch)
            turned.served += len(batch)
            [deployment] = project.store.deployments.active(model)
            tell(
                f"canary at {deployment.percent:g}%: served {len(batch)} houses sold in "
                f"{int(batch['Year_Sold'].iloc[0])} with feedback"
            )
            time.sleep(1.2)  # the server stores each arm's counts every second
            for event in project.monitor_pass().loop:
                tell(f"loop: {event.step} — {event.reason}")
    turned.production_version = project.registry.resolve(f"{model}@production").version
    truth = rest[AMES_TARGET].to_numpy(dtype=float)
    for version in sorted({turned.first_version, turned.production_version}):
        answers = project.registry.load(f"{model}:{version}").predict(
            rest.drop(columns=[AMES_TARGET])
        )
        error = [float(a) - t for a, t in zip(answers.values, truth, strict=True)]
        turned.rmse[version] = float(sum(e * e for e in error) / len(error)) ** 0.5
    return turned


@contextmanager
def _server(project: Project) -> Iterator[str]:
    """The project's prediction server on a free loopback port, in this process."""
    import uvicorn

    from shipyard.serving.app import create_app

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
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        # The server froze what it loaded out of the collector's way; give it back, so
        # that the objects are freed before this process ends.
        gc.unfreeze()


def _serve(base: str, frame: Any) -> list[str]:
    """Each row in a request of its own (a canary picks its arm per request), then the
    true prices as feedback; the prediction ids."""
    labels = frame[AMES_TARGET].tolist()
    instances = json.loads(frame.drop(columns=[AMES_TARGET]).to_json(orient="records"))
    feedback = []
    for instance, label in zip(instances, labels, strict=True):
        answer = _post(f"{base}/predict", {"instances": [instance]})
        feedback.append({"prediction_id": answer["prediction_ids"][0], "label": label})
    _post(f"{base}/feedback", {"feedback": feedback})
    return [item["prediction_id"] for item in feedback]


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
