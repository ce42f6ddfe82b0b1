"""A logged prediction as Python callers hand it in, and the ids that name predictions."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.prediction_log.columns import MAX_ID_LENGTH, MAX_MODEL_LENGTH

__all__ = ["PredictionRecord", "new_prediction_id", "new_prediction_ids"]


def new_prediction_id() -> str:
    """A fresh prediction id: 32 random hexadecimal characters (128 bits)."""
    return new_prediction_ids(1)[0]


def new_prediction_ids(count: int) -> list[str]:
    """``count`` fresh prediction ids, as ``new_prediction_id`` makes them.

    They are unique, not secret: Python's generator, seeded from the OS and reseeded in
    every forked process, costs no system call per request.
    """
    text = random.randbytes(16 * count).hex()
    return [text[i : i + 32] for i in range(0, 32 * count, 32)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionRecord:
    """One answered prediction, as the prediction log keeps it.

    ``timestamp`` defaults to now; a naive one is taken as UTC.  ``variant`` names the
    arm of the model's deployment that answered: "primary", "candidate", or "shadow" for
    an answer that was logged and never returned, whose ``shadow_of`` is the id of the
    answer that was.

    >>> PredictionRecord(prediction_id=new_prediction_id(), model="ames", version=3,
    ...     inputs={"Lot_Area": 8450}, prediction=208500.0, latency_ms=1.8)  # doctest: +SKIP
    """

    prediction_id: str
    model: str
    version: int
    inputs: Mapping[str, Any]
    prediction: Any
    latency_ms: float
    probabilities: Mapping[str, float] | None = None
    variant: str = "primary"
    shadow_of: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        # Checked here, on the request path, because compaction could not store them.
        if not isinstance(self.prediction_id, str) or not (
            0 < len(self.prediction_id) <= MAX_ID_LENGTH
        ):
            raise InvalidRequest(
                f"prediction_id must be a string of 1 to {MAX_ID_LENGTH} characters, "
                f"not {self.prediction_id!r}",
                field="prediction_id",
            )
        if self.shadow_of is not None and not (
            isinstance(self.shadow_of, str) and 0 < len(self.shadow_of) <= MAX_ID_LENGTH
        ):
            raise InvalidRequest(
                f"shadow_of must be a prediction id of 1 to {MAX_ID_LENGTH} characters, "
                f"not {self.shadow_of!r}",
                field="shadow_of",
            )
        if not isinstance(self.model, str) or not 0 < len(self.model) <= MAX_MODEL_LENGTH:
            raise InvalidRequest(
                f"model must be a name of 1 to {MAX_MODEL_LENGTH} characters, not {self.model!r}",
                field="model",
            )
        if not isinstance(self.version, int | np.integer):
            raise InvalidRequest(
                f"version must be an integer, not {self.version!r}", field="version"
            )
        if not isinstance(self.latency_ms, float | int | np.integer | np.floating):
            raise InvalidRequest(
                f"latency_ms must be a number, not {self.latency_ms!r}", field="latency_ms"
            )
