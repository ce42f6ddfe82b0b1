"""Fixtures of the prediction log's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard import Project
from shipyard.prediction_log import PredictionLog


@pytest.fixture
def log(project: Project) -> Iterator[PredictionLog]:
    """The log of a fresh project, rotating only when a test asks."""
    log = project.prediction_log(rotate_records=1000, rotate_seconds=3600)
    yield log
    log.close()
