"""Tables with a real signal, missing values and categorical columns, and projects on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE


def make_table(rows: int = 600, *, seed: int = 0, task: str = "regression") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(20, 200, rows)
    rooms = rng.integers(1, 8, rows)
    age = rng.uniform(0, 80, rows)
    age[rng.random(rows) < 0.1] = np.nan
    area = rng.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    heating = rng.choice(["gas", "electric", None], rows, p=[0.6, 0.3, 0.1])
    price = 1000 * size + 5000 * rooms - 300 * np.nan_to_num(age, nan=40.0)
    price += np.where(area == "north", 40_000, 0) + rng.normal(0, 5000, rows)
    frame = pd.DataFrame(
        {"size": size, "rooms": rooms, "age": age, "area": area, "heating": heating}
    )
    if task == "regression":
        frame["price"] = price
    else:
        frame["expensive"] = np.where(price > np.median(price), "yes", "no")
    return frame


MakeStandardProject = Callable[..., Project]


@pytest.fixture
def make_standard_project(tmp_path: Path) -> MakeStandardProject:
    """A project on a synthetic table, with a small, fast model and infra check."""

    def make(
        *, task: str = "regression", rows: int = 600, seed: int = 0, db_url: str | None = None
    ) -> Project:
        folder = tmp_path / f"{task}-{seed}"
        folder.mkdir()
        target = "price" if task == "regression" else "expensive"
        make_table(rows, seed=seed, task=task).to_csv(folder / "houses.csv", index=False)
        Project.init(folder, data=folder / "houses.csv", target=target).close()
        settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
        settings["model"]["params"] = {"max_iter": 30}
        settings["infra"]["requests"] = 20
        # Generous: a loaded test machine must not fail models on latency by accident.
        settings["infra"]["max_p99_ms"] = 2000
        settings["evaluation"]["slices"] = ["area"]
        if db_url is not None:
            settings["store"]["database"] = db_url
        (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
        return Project.open(folder)

    return make
