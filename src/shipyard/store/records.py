"""Plain, immutable views of stored records, returned by the store's queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RunStatus = Literal["running", "succeeded", "failed", "crashed"]
ExecutionStatus = Literal["pending", "running", "succeeded", "cached", "failed", "skipped"]


@dataclass(frozen=True)
class RunRecord:
    id: int
    project: str
    pipeline: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    params: dict[str, Any]
    code_version: str | None
    code_dirty: bool | None
    environment: dict[str, Any]
    host: str
    pid: int
    error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, or ``None`` while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    type_name: str
    digest: str
    kind: str
    size: int
    uri: str
    created_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"artifact:{self.id}"


@dataclass(frozen=True)
class ExecutionRecord:
    id: int
    run_id: int
    step: str
    component: str
    fingerprint: str | None
    status: str
    cached_from_id: int | None
    params: dict[str, Any]
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None
    inputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class StoredOutput:
    """What a finished step hands the store for one output port."""

    type_name: str
    digest: str
    kind: str
    size: int
    uri: str
    properties: dict[str, Any] = field(default_factory=dict)
