"""A trained project shared by the deployment tests: model 'houses' with versions 1 and 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import Project
from tests.e2e.serving_fixtures import configure, trained_project


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model 'houses' with blessed versions 1 and 2 (regression); nothing promoted."""
    folder = trained_project(tmp_path_factory.mktemp("two-versions") / "houses", max_iter=5)
    configure(folder, max_iter=8)
    with Project.open(folder) as project:
        project.run(project.standard_pipeline()).raise_for_failure()
    return folder
