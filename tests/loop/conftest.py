from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitoring.traffic import trained_classifier


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained classifier project shared by the session: copy it before changing it."""
    return trained_classifier(tmp_path_factory.mktemp("loop") / "houses")
