"""Tables with a real signal, missing values and categorical columns, and projects on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from tests.helpers import MakeStandardProject, make_table


@pytest.fixture
def make_standard_project(tmp_path: Path) -> Iterator[MakeStandardProject]:
    """A project on a synthetic table, with a small, fast model and infra check; closed
    (its database connections with it) when the test ends."""
    made: list[Project] = []

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
        made.append(Project.open(folder))
        return made[-1]

    yield make
    for project in made:
        project.close()
