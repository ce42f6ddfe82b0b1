"""The closed loop over a trained classifier whose world changes: monitor passes alone
retrain it, judge the retrain on fresh truth, canary it and promote or stop it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.errors import DeploymentError
from tests.loop.traffic import drifted, loop_project, serve_canary
from tests.monitoring.traffic import MODEL, hours_ago, serve


def steps(project: Project) -> list[str]:
    return [event.step for event in project.loop.history(MODEL)]


def accuracy(project: Project, ref: str, frame: pd.DataFrame, labels: pd.Series) -> float:
    answers = project.registry.load(ref).predict(frame).values
    return float(np.mean([str(a) == str(t) for a, t in zip(answers, labels, strict=True)]))


def test_a_changed_world_is_learned_gated_canaried_and_promoted(
    classifier: Path, tmp_path: Path
) -> None:
    with Project.open(loop_project(classifier, tmp_path / "p")) as project:
        frame, labels = drifted(3000, seed=5)
        serve(project, frame, start=hours_ago(2), labels=labels)
        first = project.monitor_pass()
        assert [e.step for e in first.loop] == ["triggered", "trained", "gated", "canary"]
        triggered, trained, gated, _ = first.loop
        assert "alert 'performance'" in triggered.reason
        assert "held back for the gate" in trained.reason
        assert "beats houses:1" in gated.reason and gated.details["p_value"] < 0.05
        [run] = project.store.loop.runs(MODEL)
        assert run.version == 2 and run.deployment_id is not None and run.holdout
        for seed in (6, 7):
            serve_canary(project, *drifted(200, seed=seed))
            project.monitor_pass()
        assert steps(project)[-1] == "promoted"
        assert project.registry.resolve(f"{MODEL}@production").version == 2
        # The following period is predicted better by the retrained version.
        later, truth = drifted(2000, seed=8)
        assert (
            accuracy(project, f"{MODEL}:2", later, truth)
            > accuracy(project, f"{MODEL}:1", later, truth) + 0.1
        )
        # The loop rests until a trigger is due again.
        assert project.monitor_pass().loop == []


def test_labels_without_signal_never_promote(classifier: Path, tmp_path: Path) -> None:
    with Project.open(loop_project(classifier, tmp_path / "p")) as project:
        frame, _ = drifted(3000, seed=9)
        noise = np.random.default_rng(9).choice(["yes", "no"], len(frame))
        serve(project, frame, start=hours_ago(2), labels=pd.Series(noise, index=frame.index))
        events = project.monitor_pass().loop
        assert [e.step for e in events] == ["triggered", "trained", "rejected"]
        assert "does not beat" in events[-1].reason
        assert project.store.deployments.active(MODEL) == []
        assert project.registry.resolve(f"{MODEL}@production").version == 1


def test_a_broken_retrain_is_stopped_at_the_gate(classifier: Path, tmp_path: Path) -> None:
    folder = loop_project(classifier, tmp_path / "p")
    path = folder / CONFIG_FILE
    settings = yaml.safe_load(path.read_text())
    settings["model"]["params"] = {"max_iter": 1, "learning_rate": 0.001}
    path.write_text(yaml.safe_dump(settings))
    with Project.open(folder) as project:
        frame, labels = drifted(3000, seed=10, area="east")
        serve(project, frame, start=hours_ago(2), labels=labels)
        events = project.monitor_pass().loop
        assert [e.step for e in events] == ["triggered", "trained", "rejected"]
        gate = events[-1]
        assert "does not beat houses:1" in gate.reason
        assert gate.details["candidate"] > gate.details["production"]
        assert project.store.deployments.active(MODEL) == []


def test_manual_approval_stops_before_the_canary(classifier: Path, tmp_path: Path) -> None:
    with Project.open(loop_project(classifier, tmp_path / "p", approval="manual")) as project:
        with pytest.raises(DeploymentError, match="nothing of 'houses' awaits approval"):
            project.loop.approve(MODEL, actor="ana")
        frame, labels = drifted(3000, seed=11)
        serve(project, frame, start=hours_ago(2), labels=labels)
        assert steps(project) == []
        project.monitor_pass()
        assert steps(project)[-2:] == ["gated", "awaiting_approval"]
        assert "shipyard approve houses" in project.loop.history(MODEL)[-1].reason
        project.monitor_pass()
        assert project.store.deployments.active(MODEL) == []  # still waiting
        project.loop.approve(MODEL, actor="ana", reason="looked at the gate")
        assert project.loop.history(MODEL)[-1].reason == "approved by ana: looked at the gate"
        project.monitor_pass()
        assert steps(project)[-1] == "canary"
        [deployment] = project.store.deployments.active(MODEL)
        assert deployment.candidate_version == 2
