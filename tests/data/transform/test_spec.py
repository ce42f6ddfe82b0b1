"""The transform spec is validated when it is made."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shipyard.data.transform import (
    TransformSpec,
)


def test_spec_is_validated() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        TransformSpec(numeric=("a",), categorical=("a",))
    with pytest.raises(ValidationError, match="listed twice"):
        TransformSpec(numeric=("a",), drop=("a",))
    with pytest.raises(ValidationError):
        TransformSpec.model_validate({"encoding": "hashing"})
    with pytest.raises(ValidationError):
        TransformSpec(derive="not a reference")
    with pytest.raises(ValidationError):
        TransformSpec(max_categories=0)
