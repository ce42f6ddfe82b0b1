"""Monitoring as an operator runs it: traffic to a real server, `shipyard monitor`,
`shipyard alerts`, `shipyard report`, and the server's /metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Project
from tests.e2e.review_fixtures import TARGET, classifier_project, instances, noisy_table, wait_for
from tests.e2e.serving_fixtures import RunningServer, served
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = {"monitoring": {"window": "300", "min_count": 50}, "loop": {"enabled": False}}
    return classifier_project(
        tmp_path_factory.mktemp("cli-monitoring") / "shop",
        "houses",
        rows=1500,
        seed=3,
        settings=settings,
    )


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[RunningServer]:
    yield from served(folder)


def _ok(folder: Path, *args: str) -> str:
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_pass_over_served_traffic_is_printed_counted_and_drawn(
    folder: Path, server: RunningServer
) -> None:
    calm = noisy_table(300, seed=30)
    shifted = noisy_table(300, seed=31)
    shifted["size"] = shifted["size"] * 1.5 + 30
    with server.client() as client:
        for frame in (calm, shifted):
            for start in range(0, 300, 100):
                part = frame.iloc[start : start + 100]
                answer = client.post("/predict", json={"instances": instances(part)})
                assert answer.status_code == 200, answer.text
                feedback = [
                    {"prediction_id": pid, "label": label}
                    for pid, label in zip(
                        answer.json()["prediction_ids"], part[TARGET], strict=True
                    )
                ]
                assert client.post("/feedback", json={"feedback": feedback}).status_code == 200

    passed = json.loads(_ok(folder, "monitor", "--format", "json"))
    calm_window, drifted_window = passed["windows"]
    for window in (calm_window, drifted_window):
        assert window["count"] == 300 and window["window"] == "300"
        assert window["start"] < window["end"]
        assert {"score", "threshold", "drifted"} <= set(window["features"]["size"])
        assert window["performance"]["accuracy"]["count"] == 300
        assert 0 < window["estimated"]["accuracy"] <= 1
    assert calm_window["drifted"] == []
    assert "size" in drifted_window["drifted"]
    # The bigger houses also move the answers, and the truth did not follow them.
    opened = {a["rule"]: a for a in drifted_window["alerts"]}
    assert set(opened) == {"data_drift", "output_drift", "performance"}
    assert "size (" in opened["data_drift"]["message"]
    assert "300 labels" in opened["performance"]["message"]
    assert json.loads(_ok(folder, "monitor", "--format", "json"))["windows"] == []

    table = _ok(folder, "alerts")
    assert "data_drift" in table and "size" in table and "warning" in table
    listed = json.loads(_ok(folder, "alerts", "--format", "json"))
    assert {a["rule"] for a in listed} == set(opened)

    metrics = wait_for(lambda: _drift_lines(server), seconds=15)
    assert metrics, "no drift gauge on /metrics"
    size = [line for line in metrics if 'feature="size"' in line]
    assert size and float(size[0].rsplit(" ", 1)[1]) > 0.1
    with server.client() as client:
        open_alerts = client.get("/metrics").text
    assert re.search(r'shipyard_alerts_open\{model="houses",severity="warning"\} 2\.0', open_alerts)
    assert re.search(
        r'shipyard_alerts_open\{model="houses",severity="critical"\} 1\.0', open_alerts
    )

    report = folder / "report.html"
    printed = _ok(folder, "report", "houses", "--output", str(report))
    assert "report written" in printed
    page = report.read_text()
    assert "<html" in page and "size" in page
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page)  # offline

    # A calm window after it: the table shows it, and the alert resolving.
    calm_again = noisy_table(300, seed=32)
    with server.client() as client:
        answer = client.post("/predict", json={"instances": instances(calm_again)})
        assert answer.status_code == 200, answer.text
    printed = _ok(folder, "monitor", "houses")
    assert "windows computed" in printed and "none of" in printed
    assert "alert resolved" in printed and "data_drift" in printed
    assert "no labels yet" in printed
    # Without labels the calm window cannot tell whether performance recovered.
    still = json.loads(_ok(folder, "alerts", "--format", "json"))
    assert {a["rule"] for a in still} == {"performance"}
    assert "data_drift" in _ok(folder, "alerts", "--all")


def _drift_lines(server: RunningServer) -> list[str]:
    with server.client() as client:
        text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith("shipyard_drift_score{")]


def test_an_unknown_model_and_a_bad_window_are_named(folder: Path, tmp_path: Path) -> None:
    result = run_cli("monitor", "nosuch", cwd=folder)
    assert result.returncode == 1 and "nosuch" in result.stderr
    result = run_cli("report", "nosuch", "--output", "x.html", cwd=folder)
    assert result.returncode == 1 and "nosuch" in result.stderr
    Project.init(tmp_path, name="fresh").close()
    with (tmp_path / "shipyard.yaml").open("a") as settings:
        settings.write("monitoring:\n  window: 1x\n")
    result = run_cli("monitor", cwd=tmp_path)
    assert result.returncode == 1
    assert "monitoring.window" in result.stderr and "'1x'" in result.stderr
