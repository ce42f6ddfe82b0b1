"""Experiment tracking from inside a component: log parameters and metrics.

Inside a running step, ``log_param`` and ``log_metric`` record values for the step's run;
the runner stores them, and ``shipyard runs --compare`` shows them side by side.

>>> from shipyard import component, log_metric, Output, Metrics
>>> @component
... def fit(report: Output[Metrics], *, alpha: float = 1.0) -> None:
...     log_metric("rmse", 0.42)
...     report.path.write_text("{}")
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import PipelineError


@dataclass
class StepLog:
    """What one step logged while it ran."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)


_current: ContextVar[StepLog | None] = ContextVar("shipyard_step_log", default=None)


@contextmanager
def logging_into(log: StepLog) -> Iterator[StepLog]:
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


def _log() -> StepLog:
    log = _current.get()
    if log is None:
        raise PipelineError("log_param and log_metric record values of a step: call them in one")
    return log


def log_param(key: str, value: Any) -> None:
    """Record a parameter of this run (a JSON value); logging a key again overwrites it."""
    _log().params[key] = value


def log_params(values: Mapping[str, Any]) -> None:
    """Record several parameters at once."""
    for key, value in values.items():
        log_param(key, value)


def log_metric(key: str, value: float, *, step: int | None = None) -> None:
    """Record a metric value (optionally at a training ``step``) for this run."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise PipelineError(f"metric '{key}' is {number}; metrics must be finite numbers")
    _log().metrics.append((key, number, step))


def log_metrics(values: Mapping[str, float], *, step: int | None = None) -> None:
    """Record several metrics at once."""
    for key, value in values.items():
        log_metric(key, value, step=step)
