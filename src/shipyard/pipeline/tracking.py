"""Experiment tracking: ``log_param`` and ``log_metric`` record values for a run.

Inside a running pipeline step they record for the step's run; the runner stores them.
Outside pipelines they record for the innermost run that ``shipyard.start_run`` opened in
this process (``shipyard.experiments``).  ``shipyard runs --compare`` shows them side by
side.

>>> from shipyard import component, log_metric, Output, Metrics
>>> @component
... def fit(report: Output[Metrics], *, alpha: float = 1.0) -> None:
...     log_metric("rmse", 0.42)
...     report.path.write_text("{}")
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from shipyard.errors import PipelineError

__all__ = [
    "Recorder",
    "StepLog",
    "activate",
    "active_recorder",
    "deactivate",
    "finite",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "logging_into",
]


class Recorder(Protocol):
    """Where logged values go: a step's log, or a tracked run."""

    def record_param(self, key: str, value: Any) -> None: ...

    def record_metric(self, key: str, value: float, step: int | None) -> None: ...


@dataclass
class StepLog:
    """What one step logged while it ran."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)

    def record_param(self, key: str, value: Any) -> None:
        self.params[key] = value

    def record_metric(self, key: str, value: float, step: int | None) -> None:
        self.metrics.append((key, value, step))


_step: ContextVar[Recorder | None] = ContextVar("shipyard_step_log", default=None)
_active: list[Recorder] = []
"""Tracked runs open in this process, innermost last: a process-wide stack (not a
context variable), so that a run opened in one notebook cell is active in the next."""
_active_lock = threading.Lock()


@contextmanager
def logging_into(log: StepLog) -> Iterator[StepLog]:
    """Record what the code inside logs into ``log`` (a pipeline step's values)."""
    token = _step.set(log)
    try:
        yield log
    finally:
        _step.reset(token)


def activate(recorder: Recorder) -> None:
    """Make ``recorder`` the innermost open run of this process."""
    with _active_lock:
        _active.append(recorder)


def deactivate(recorder: Recorder) -> None:
    """Close ``recorder``'s place in the stack (it may not be the innermost)."""
    with _active_lock:
        if recorder in _active:
            _active.remove(recorder)


def active_recorder() -> Recorder | None:
    """The innermost run open in this process, if any."""
    return _active[-1] if _active else None


def _recorder() -> Recorder:
    recorder = _step.get() or active_recorder()
    if recorder is None:
        raise PipelineError(
            "log_param and log_metric record values of a run: call them in a pipeline step "
            "or inside `with shipyard.start_run():`"
        )
    return recorder


def finite(key: str, value: float) -> float:
    """``value`` as a float; a ``PipelineError`` naming ``key`` when it is not finite."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise PipelineError(f"metric '{key}' is {number}; metrics must be finite numbers")
    return number


def log_param(key: str, value: Any) -> None:
    """Record a parameter of this run (a JSON value); logging a key again overwrites it."""
    _recorder().record_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    """Record several parameters at once."""
    recorder = _recorder()
    for key, value in values.items():
        recorder.record_param(key, value)


def log_metric(key: str, value: float, *, step: int | None = None) -> None:
    """Record a metric value (optionally at a training ``step``) for this run."""
    _recorder().record_metric(key, finite(key, value), step)


def log_metrics(values: Mapping[str, float], *, step: int | None = None) -> None:
    """Record several metrics at once."""
    recorder = _recorder()
    for key, value in values.items():
        recorder.record_metric(key, finite(key, value), step)
