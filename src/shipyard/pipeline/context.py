"""What a running step may know about where it runs, besides its inputs and parameters.

Most components need nothing more than their ports.  A step that keeps state across
attempts (the Tuner's study, resumed after a crash) needs a folder that belongs to its
fingerprint, a step that parallelises its own work needs the pipeline's worker count, and
a step that asked the runner for a process started ahead (``Step.standby``) needs its
address:

>>> from shipyard.pipeline import component, current_step, Output, Metrics
>>> @component
... def search(report: Output[Metrics]) -> None:
...     step = current_step()
...     state = step.work_folder() / "state.json"  # kept when the process is killed
...     report.path.write_text(str(step.workers))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shipyard.artifacts import ArtifactStore
from shipyard.errors import PipelineError

__all__ = ["Standby", "StepContext", "current_step", "running_step"]


class Standby(Protocol):
    """A process a step will use, started by the runner before the step runs."""

    @property
    def address(self) -> str:
        """Where the step reaches it (a Unix socket's path, a URL)."""
        ...

    def close(self) -> None:
        """End it; called when the run ends, whether or not the step used it."""


@dataclass(frozen=True)
class StepContext:
    """The running step: its name, its cache key, the pipeline's workers, the artifacts,
    and the address of its standby process (``None`` when it has none)."""

    step: str
    fingerprint: str | None
    workers: int
    artifacts: ArtifactStore
    attempt: int = 1
    standby: str | None = None

    def work_folder(self) -> Path:
        """A local folder kept for this step's fingerprint across attempts and runs."""
        if self.fingerprint is None:
            raise PipelineError(f"step '{self.step}' runs without a fingerprint: no working folder")
        return self.artifacts.work_folder(self.fingerprint)


_current: ContextVar[StepContext | None] = ContextVar("shipyard_step_context", default=None)


@contextmanager
def running_step(context: StepContext) -> Iterator[StepContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current_step() -> StepContext:
    """The step running in this process; outside a step, a ``PipelineError``."""
    context = _current.get()
    if context is None:
        raise PipelineError("current_step() tells a running step about itself: call it in one")
    return context
