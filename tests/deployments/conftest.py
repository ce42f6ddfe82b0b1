"""A trained project shared by the deployment tests: model 'houses' with versions 1 and 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deployments.traffic import two_versions as train_two_versions


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model 'houses' with blessed versions 1 and 2 (regression); nothing promoted."""
    return train_two_versions(tmp_path_factory.mktemp("two-versions") / "houses")
