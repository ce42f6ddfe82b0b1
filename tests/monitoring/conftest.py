from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Project
from tests.monitoring.traffic import copy_project


@pytest.fixture
def monitored(classifier: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of the classifier project, opened."""
    with Project.open(copy_project(classifier, tmp_path / "houses")) as project:
        yield project
