"""A classifier whose confidence means something, trained and ready to serve, for the
review tests: its classes are noisy near the decision boundary and clean far from it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from tests.e2e.serving_fixtures import configure
from tests.helpers import make_table, warm_pool

TARGET = "expensive"
MEDIAN_PRICE = 133_000.0


def noisy_table(rows: int, *, seed: int) -> pd.DataFrame:
    """The houses table, classified as expensive or not, with noisy classes near the
    median price (a third flipped at the median, fewer further away): the model is sure
    of some houses and unsure of others, so a precision target means something."""
    frame = make_table(rows, seed=seed, task="regression")
    price = frame.pop("price").to_numpy()
    flip = np.random.default_rng(seed + 1000).random(rows) < 0.35 * np.exp(
        -np.abs(price - MEDIAN_PRICE) / 25_000
    )
    frame[TARGET] = np.where((price > MEDIAN_PRICE) != flip, "yes", "no")
    return frame


def instances(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as a request's instances (no target, NaN as null)."""
    inputs = frame.drop(columns=[TARGET]).astype(object)
    return [
        {k: (None if v != v else v) for k, v in row.items()}
        for row in inputs.to_dict(orient="records")
    ]


def classifier_project(
    folder: Path, model: str, *, rows: int, seed: int, settings: dict[str, Any]
) -> Path:
    """A project in ``folder`` whose model ``model`` learned ``rows`` noisy rows, with
    ``settings`` (top-level sections of shipyard.yaml) merged in."""
    folder.mkdir(parents=True, exist_ok=True)
    noisy_table(rows, seed=seed).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target=TARGET).close()
    configure(folder, max_iter=40)
    path = folder / CONFIG_FILE
    loaded = yaml.safe_load(path.read_text())
    loaded["model"]["name"] = model
    for section, values in settings.items():
        loaded.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(loaded))
    with Project.open(folder) as project:
        project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    return folder


def wait_for(check: Callable[[], Any], *, seconds: float = 20.0) -> Any:
    """``check()`` once it is truthy, or its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
