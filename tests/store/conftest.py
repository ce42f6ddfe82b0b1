from __future__ import annotations

import pytest

from shipyard import Project
from tests.store.helpers import an_artifact


@pytest.fixture
def registered(project: Project) -> Project:
    """A project with models 'm' and 'n', one version each."""
    package = an_artifact(project.store, "a")
    for name in ("m", "n"):
        project.store.models.register_version(
            name, package_id=package.id, run_id=None, dataset_version_id=None, blessed=True,
            infra_validated=True, metrics={}, reasons={}, code_version=None,
        )  # fmt: skip
    return project
