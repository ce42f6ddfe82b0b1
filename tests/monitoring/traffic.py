"""Served traffic written straight into a project's prediction log, as a server logs it:
the production model's real answers and probabilities, at the times a test chooses."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.prediction_log import PredictionRecord, new_prediction_ids
from tests.e2e.review_fixtures import TARGET, classifier_project, noisy_table

MODEL = "houses"


def trained_classifier(folder: Path) -> Path:
    """A project whose model 'houses' learned 2,000 noisy rows; windows of one hour,
    computed as soon as they close; no retraining (the loop's tests turn it on)."""
    settings = {"monitoring": {"window": "1h", "lateness_seconds": 0}, "loop": {"enabled": False}}
    return classifier_project(folder, MODEL, rows=2000, seed=1, settings=settings)


def copy_project(source: Path, folder: Path, **monitoring: Any) -> Path:
    """A copy of ``source`` with ``monitoring`` settings merged in."""
    shutil.copytree(source, folder)
    path = folder / CONFIG_FILE
    loaded = yaml.safe_load(path.read_text())
    loaded.setdefault("monitoring", {}).update(monitoring)
    path.write_text(yaml.safe_dump(loaded))
    return folder


def hours_ago(hours: int) -> datetime:
    """The start of the hour ``hours`` hours before this one."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours)


def held_out(rows: int, *, seed: int) -> pd.DataFrame:
    """Rows of the training distribution the model never saw."""
    return noisy_table(rows, seed=seed)


def serve(
    project: Project,
    frame: pd.DataFrame,
    *,
    start: datetime,
    seconds: float = 3000.0,
    labels: pd.Series | None = None,
) -> list[str]:
    """Log the production model's answers to ``frame``'s rows, spread evenly over
    ``seconds`` from ``start``; ``labels`` (the true classes by default, when the frame
    has them) come back as feedback.  Returns the prediction ids."""
    model = project.registry.load(f"{MODEL}@production")
    inputs = frame.drop(columns=[TARGET], errors="ignore")
    answers = model.predict(inputs)
    ids = new_prediction_ids(len(frame))
    step = seconds / max(len(frame), 1)
    maps = answers.probability_maps or [None] * len(frame)
    records = [
        PredictionRecord(
            prediction_id=ids[i],
            model=MODEL,
            version=model.version,
            inputs={k: _json(v) for k, v in row.items()},
            prediction=answers.values[i],
            probabilities=maps[i],
            latency_ms=0.5 + (i % 10) / 10,
            timestamp=start + timedelta(seconds=i * step),
        )
        for i, row in enumerate(inputs.to_dict(orient="records"))
    ]
    log = project.prediction_log()
    log.append(records)
    log.close()
    if labels is None and TARGET in frame.columns:
        labels = frame[TARGET]
    if labels is not None:
        log.record_feedback_batch(dict(zip(ids, labels.tolist(), strict=True)))
    return ids


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value
