"""Traffic for the loop's tests: a drifted world (one segment's classes flipped) and a
canary's traffic answered by the real versions of both arms, as servers log it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard import Project
from shipyard.prediction_log import PredictionRecord, new_prediction_ids
from tests.e2e.review_fixtures import TARGET
from tests.monitoring.traffic import MODEL, copy_project, held_out

LOOP = {"enabled": True, "min_interval": "1s", "triggers": {"new_data": False}}
DEPLOYMENTS = {
    "steps": [50, 100],
    "interval_seconds": 0.01,
    "checks": {"min_requests": 20, "min_labels": 20},
}


def loop_project(source: Path, folder: Path, **loop: object) -> Path:
    """A copy of the trained classifier whose loop is on (with ``loop`` settings), its
    windows 1,000 predictions, its canaries judged on 20 answers and labels per arm."""
    copy_project(source, folder, window="1000", min_count=50)
    import yaml

    from shipyard.config import CONFIG_FILE

    path = folder / CONFIG_FILE
    settings = yaml.safe_load(path.read_text())
    settings["loop"] = {**LOOP, **loop}
    settings["deployments"] = DEPLOYMENTS
    path.write_text(yaml.safe_dump(settings))
    return folder


def drifted(rows: int, *, seed: int, area: str = "north") -> tuple[pd.DataFrame, pd.Series]:
    """Rows of the training distribution whose true class flipped in one ``area``."""
    frame = held_out(rows, seed=seed)
    north = (frame["area"] == area).to_numpy()
    labels = frame[TARGET].to_numpy().copy()
    labels[north] = np.where(labels[north] == "yes", "no", "yes")
    return frame.drop(columns=[TARGET]), pd.Series(labels, index=frame.index)


def serve_canary(project: Project, frame: pd.DataFrame, labels: pd.Series) -> None:
    """Answer ``frame`` through the active canary of the model, as servers do: the
    candidate answers its share with the primary in shadow, the primary the rest; the
    arms' counts are added and the true classes come back."""
    [deployment] = project.store.deployments.active(MODEL)
    primary = project.registry.load(f"{MODEL}:{deployment.primary_version}")
    candidate = project.registry.load(f"{MODEL}:{deployment.candidate_version}")
    share = round(len(frame) * deployment.percent / 100)
    inputs = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]
    ids = new_prediction_ids(len(frame) + share)
    records, returned = [], {}
    by_candidate = candidate.predict(frame.iloc[:share]).values if share else []
    by_primary = primary.predict(frame).values
    for i in range(len(frame)):
        answer = ids[i]
        if i < share:
            records.append(
                _record(answer, candidate.version, inputs[i], by_candidate[i], "candidate")
            )
            shadow = _record(
                ids[len(frame) + i], primary.version, inputs[i], by_primary[i], "shadow"
            )
            records.append(replace(shadow, shadow_of=answer))
        else:
            records.append(_record(answer, primary.version, inputs[i], by_primary[i], "primary"))
        returned[answer] = labels.iloc[i]
    log = project.prediction_log()
    log.append(records)
    log.close()
    project.store.deployments.add_counts(
        {
            (deployment.id, "candidate"): (share, 0),
            (deployment.id, "primary"): (len(frame) - share, 0),
            (deployment.id, "primary.shadow"): (share, 0),
        }
    )
    log.record_feedback_batch(returned)


def _record(
    prediction_id: str, version: int, inputs: dict[str, object], answer: object, variant: str
) -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id,
        model=MODEL,
        version=version,
        inputs=inputs,
        prediction=answer,
        latency_ms=1.0,
        variant=variant,
    )
