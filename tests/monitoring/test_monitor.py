"""Monitoring passes over a trained classifier's logged traffic: drift, performance from
feedback, the label-free estimate, alerts, and a pass that resumes where one stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard import Project
from shipyard.errors import ModelNotFound
from shipyard.monitoring import window_dict
from tests.e2e.review_fixtures import TARGET
from tests.monitoring.traffic import MODEL, copy_project, held_out, hours_ago, serve
from tests.monitoring.webhooks import Receiver


def flipped(labels: np.ndarray) -> np.ndarray:
    return np.where(labels == "yes", "no", "yes")


def test_an_unshifted_window_raises_no_drift_and_the_estimate_meets_the_truth(
    monitored: Project,
) -> None:
    serve(monitored, held_out(3000, seed=11), start=hours_ago(3))
    result = monitored.monitor_pass()
    [window] = result.windows
    found = window_dict(window)
    assert found["count"] == 3000 and found["window"] == "1h"
    assert found["drifted"] == []
    assert found["output"]["status"] == "stable"
    assert set(found["features"]) >= {"size", "rooms", "age", "area", "heating"}
    for feature in found["features"].values():
        assert feature["score"] < feature["threshold"]
    realised = found["performance"]["accuracy"]
    assert realised["count"] == 3000 and realised["lower"] < realised["value"] < realised["upper"]
    assert abs(found["estimated"]["accuracy"] - realised["value"]) < 0.04
    assert found["evaluation"]["accuracy"] > 0.6
    assert [a.rule for a in monitored.store.monitoring.alerts()] == []


def test_shifted_and_scaled_features_raise_an_alert_that_names_them(
    monitored: Project,
) -> None:
    shifted = held_out(3000, seed=12)
    shifted["size"] = shifted["size"] * 1.4 + 20
    shifted["age"] = shifted["age"] + 25
    serve(monitored, shifted, start=hours_ago(4))
    serve(monitored, held_out(3000, seed=13), start=hours_ago(3))
    drifted_window, calm_window = monitored.monitor_pass().to_dict()["windows"]
    assert {"size", "age"} <= set(drifted_window["drifted"])
    assert not {"area", "heating"} & set(drifted_window["drifted"])
    assert calm_window["drifted"] == []
    # Opened at the shifted window, naming the columns; resolved by the calm one.
    [opened] = [a for a in drifted_window["alerts"] if a["rule"] == "data_drift"]
    assert opened["state"] == "opened" and "size (" in opened["message"]
    assert "area" not in opened["message"]
    [resolved] = [a for a in calm_window["alerts"] if a["rule"] == "data_drift"]
    assert resolved["state"] == "resolved"
    [stored] = [a for a in monitored.store.monitoring.alerts() if a.rule == "data_drift"]
    assert stored.status == "resolved"


def test_labels_that_change_for_a_segment_show_as_a_drop_and_alert(monitored: Project) -> None:
    calm = held_out(3000, seed=14)
    changed = held_out(3000, seed=15)
    north = changed["area"] == "north"
    labels = changed[TARGET].to_numpy().copy()
    labels[north] = flipped(labels[north])
    serve(monitored, calm, start=hours_ago(4))
    serve(monitored, changed, start=hours_ago(3), labels=pd.Series(labels, index=changed.index))
    before, after = (window_dict(w) for w in monitored.monitor_pass().windows)
    drop = before["performance"]["accuracy"]["value"] - after["performance"]["accuracy"]["value"]
    assert drop > 0.2
    # The inputs did not move: the label-free estimate stays where it was.
    assert abs(before["estimated"]["accuracy"] - after["estimated"]["accuracy"]) < 0.03
    [alert] = [a for a in monitored.store.monitoring.alerts() if a.rule == "performance"]
    assert alert.severity == "critical" and alert.status == "open"
    assert "accuracy" in alert.message and "3000 labels" in alert.message


def test_thirty_bad_labels_cannot_raise_an_alarm_alone(monitored: Project) -> None:
    few = held_out(30, seed=16)
    labels = few[TARGET].to_numpy().copy()
    labels[:8] = flipped(labels[:8])  # about a quarter wrong, beyond the 10% bound
    serve(monitored, few, start=hours_ago(3), labels=pd.Series(labels, index=few.index))
    [window] = (window_dict(w) for w in monitored.monitor_pass().windows)
    assert all(f["status"] == "not enough data" for f in window["features"].values())
    assert all(f["score"] is None for f in window["features"].values())
    assert window["drift_share"] is None and window["drifted"] == []
    assert window["performance"]["accuracy"]["count"] == 30
    assert monitored.store.monitoring.alerts() == []


def test_labels_arriving_later_complete_a_window(monitored: Project) -> None:
    frame = held_out(1000, seed=17)
    ids = serve(monitored, frame.drop(columns=[TARGET]), start=hours_ago(3))
    [window] = monitored.monitor_pass().windows
    assert window.result["performance"] is None and window.labelled == 0
    assert window.result["estimated"]["accuracy"] > 0.5
    log = monitored.prediction_log()
    log.record_feedback_batch(dict(zip(ids[:400], frame[TARGET][:400], strict=True)))
    result = monitored.monitor_pass()
    assert result.windows == []
    [refreshed] = result.models[0].refreshed
    assert refreshed.id == window.id and refreshed.labelled == 400
    assert refreshed.result["performance"]["accuracy"]["count"] == 400


def test_a_pass_resumes_without_computing_a_window_twice(monitored: Project) -> None:
    serve(monitored, held_out(500, seed=18), start=hours_ago(5))
    serve(monitored, held_out(500, seed=19), start=hours_ago(4))
    heard: list[tuple[str, int, int]] = []
    assert len(monitored.monitor_pass(progress=lambda *told: heard.append(told)).windows) == 2
    assert heard == [(MODEL, 0, 2), (MODEL, 1, 2)]
    assert monitored.monitor_pass().windows == []
    # A pass killed after storing its windows but before moving the cursor:
    monitoring = monitored.store.monitoring
    assert monitoring.take_lease(MODEL, "other", 60)
    monitoring.advance(MODEL, "other", cursor=None, spec="1h", passed_at=hours_ago(6))
    monitoring.release_lease(MODEL, "other")
    serve(monitored, held_out(500, seed=20), start=hours_ago(3))
    again = monitored.monitor_pass()
    assert [w.start for w in again.windows] == [hours_ago(3)]
    assert len(monitoring.windows(model=MODEL)) == 3


def test_a_model_held_by_another_monitor_is_skipped(monitored: Project) -> None:
    serve(monitored, held_out(200, seed=21), start=hours_ago(3))
    assert monitored.store.monitoring.take_lease(MODEL, "elsewhere", 60)
    result = monitored.monitor_pass()
    assert result.windows == [] and "lease" in (result.models[0].skipped or "")


def test_windows_by_count(classifier: Path, tmp_path: Path) -> None:
    folder = copy_project(classifier, tmp_path / "count", window="500")
    with Project.open(folder) as project:
        serve(project, held_out(1200, seed=22), start=hours_ago(2), seconds=600)
        assert [w.count for w in project.monitor_pass().windows] == [500, 500]
        serve(project, held_out(300, seed=23), start=hours_ago(1), seconds=60)
        [third] = project.monitor_pass().windows
        assert third.count == 500 and third.spec == "500"


def test_an_unknown_model_is_named(monitored: Project) -> None:
    with pytest.raises(ModelNotFound, match="nosuch"):
        monitored.monitor_pass("nosuch")


def test_a_recent_open_window_waits(monitored: Project) -> None:
    serve(monitored, held_out(200, seed=24), start=hours_ago(0), seconds=1)
    result = monitored.monitor_pass()
    assert result.windows == [] and result.models[0].problems == []


def test_the_webhook_hears_of_the_alert_and_one_that_is_down_stops_nothing(
    classifier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shipyard.monitoring.webhook._BACKOFF_SECONDS", 0.01)
    receiver = Receiver()
    down = Receiver()
    down.close()
    try:
        folder = copy_project(
            classifier, tmp_path / "hooked", webhook={"url": down.url, "timeout_seconds": 1}
        )
        shifted = held_out(1000, seed=25)
        shifted["size"] = shifted["size"] * 2
        with Project.open(folder) as project:
            serve(project, shifted, start=hours_ago(3))
            result = project.monitor_pass()
            assert len(result.windows) == 1  # the pass went on without the webhook
            assert result.deliveries is not None and "unreachable" in (
                result.deliveries.error or ""
            )
        settings = folder / "shipyard.yaml"
        settings.write_text(settings.read_text().replace(down.url, receiver.url))
        with Project.open(folder) as project:
            later = project.monitor_pass()
            assert later.windows == [] and later.deliveries is not None
            assert later.deliveries.error is None
        [body] = [b for b in receiver.bodies if b["alert"]["rule"] == "data_drift"]
        assert body["event"] == "alert.opened" and "size" in body["alert"]["message"]
    finally:
        receiver.close()
