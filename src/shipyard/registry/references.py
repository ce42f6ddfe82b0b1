"""Model references: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``.

>>> parse_model_ref("ames@staging")
ModelRef(name='ames', alias='staging', version=None)
>>> parse_model_ref("ames:3")
ModelRef(name='ames', alias=None, version=3)
>>> parse_model_ref("ames")
ModelRef(name='ames', alias='production', version=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import ModelNotFound

__all__ = ["DEFAULT_ALIAS", "ModelRef", "parse_model_ref"]

DEFAULT_ALIAS = "production"
_PATTERN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<alias>[A-Za-z0-9][A-Za-z0-9_-]*)|:(?P<version>\d+))?$"
)


@dataclass(frozen=True)
class ModelRef:
    name: str
    alias: str | None
    version: int | None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}"


def parse_model_ref(text: str, *, default_alias: str = DEFAULT_ALIAS) -> ModelRef:
    """Parse a reference; a bare name means its ``production`` version."""
    found = _PATTERN.match(text.strip())
    if found is None:
        raise ModelNotFound(
            f"'{text}' is not a model reference; use NAME, NAME@ALIAS or NAME:VERSION"
        )
    version = found["version"]
    if version is not None:
        return ModelRef(found["name"], None, int(version))
    return ModelRef(found["name"], found["alias"] or default_alias, None)
