"""How a running component sees its artifacts: local paths plus properties.

``Input[T]`` and ``Output[T]`` are the annotations a component declares; at run time the
engine passes instances of them.  Inputs are read-only: their path points into the
artifact store (or a verified local copy of it).  Outputs are fresh paths the component
creates — as a file or as a folder — and properties it may fill in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar

from shipyard.pipeline.types import Artifact

T = TypeVar("T", bound=Artifact)


class Input(Generic[T]):
    """An input artifact: ``path`` to read, its ``digest`` and stored ``properties``."""

    def __init__(
        self, path: Path, *, digest: str, type_name: str, properties: dict[str, Any]
    ) -> None:
        self.path = path
        self.digest = digest
        self.type_name = type_name
        self.properties = properties

    def __repr__(self) -> str:
        return f"Input({self.type_name} {self.digest[:12]} at {self.path})"


class Output(Generic[T]):
    """An output artifact: create a file or a folder at ``path``; set ``properties``."""

    def __init__(self, path: Path, *, type_name: str) -> None:
        self.path = path
        self.type_name = type_name
        self.properties: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Output({self.type_name} at {self.path})"
