"""Canary traffic as a server logs it, written straight into a project's prediction log.

Each request the candidate answers is also answered by the primary in shadow (a
"shadow" record whose ``shadow_of`` is the candidate's id); the primary answers the rest
alone.  The servers' counters are added up as a server would.  Tests choose how the
candidate answers (how far from the truth, how slow, how often it fails) and whether
labels come back.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.prediction_log import PredictionRecord, new_prediction_ids


def analysed_copy(two_versions: Path, folder: Path) -> Path:
    """A copy of the two-version project in ``folder``, version 1 in production, whose
    checks judge on 20 answers and 20 labels per arm."""
    shutil.copytree(two_versions, folder)
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["deployments"] = {"checks": {"min_requests": 20, "min_labels": 20}}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="start")
    return folder


@dataclass(frozen=True)
class Arm:
    """How one arm answers: its version, its error from the truth, its latency."""

    version: int
    noise: float = 5_000.0
    bias: float = 0.0
    latency_ms: float = 2.0
    errors: int = 0


@dataclass(frozen=True)
class Served:
    """The ids of what was logged: returned answers and their true values."""

    returned: dict[str, float]


def serve(
    project: Project,
    *,
    primary: Arm,
    candidate: Arm,
    requests: int,
    seed: int,
    deployment_id: int | None = None,
    labels: bool = False,
    model: str = "houses",
) -> Served:
    """Log ``requests`` answers of each arm: the candidate's, each with the primary's
    shadow, and as many of the primary's alone; count them; label them if ``labels``."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(200_000, 50_000, 2 * requests)
    ids = new_prediction_ids(3 * requests)
    records = []
    returned: dict[str, float] = {}
    for i in range(requests):
        answer, shadow = ids[2 * i], ids[2 * i + 1]
        records.append(_record(answer, model, candidate, truth[i], rng, "candidate", None))
        records.append(_record(shadow, model, primary, truth[i], rng, "shadow", answer))
        returned[answer] = float(truth[i])
    for i in range(requests, 2 * requests):
        answer = ids[requests + i]
        records.append(_record(answer, model, primary, truth[i], rng, "primary", None))
        returned[answer] = float(truth[i])
    log = project.prediction_log()
    log.append(records)
    log.close()
    if deployment_id is not None:
        project.store.deployments.add_counts(
            {
                (deployment_id, "candidate"): (requests + candidate.errors, candidate.errors),
                (deployment_id, "primary"): (requests, 0),
                (deployment_id, "primary.shadow"): (requests, 0),
            }
        )
    if labels:
        log.record_feedback_batch(returned)
    return Served(returned=returned)


def _record(
    prediction_id: str,
    model: str,
    arm: Arm,
    truth: float,
    rng: np.random.Generator,
    variant: str,
    shadow_of: str | None,
) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id,
        model=model,
        version=arm.version,
        inputs={"size": 100.0},
        prediction=float(truth + arm.bias + rng.normal(0, arm.noise)),
        latency_ms=float(arm.latency_ms * rng.uniform(0.8, 1.2)),
        variant=variant,
        shadow_of=shadow_of,
    )
