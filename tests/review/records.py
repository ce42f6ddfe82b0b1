"""Review items and labels as the store returns them, for the policy and statistics tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipyard.store.records import ReviewItemRecord, ReviewLabelRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def label(reviewer: str, value: Any, action: str = "label", item_id: int = 1) -> ReviewLabelRecord:
    return ReviewLabelRecord(
        id=0, item_id=item_id, reviewer=reviewer, action=action,  # type: ignore[arg-type]
        label=value, guideline_version=None, created_at=NOW,
    )  # fmt: skip


def item(
    *,
    item_id: int = 1,
    suggestion: Any = "yes",
    confidence: float | None = 0.5,
    interval: tuple[float, float] | None = None,
    labels_required: int = 1,
    status: str = "open",
    labels: list[ReviewLabelRecord] | None = None,
    label_value: Any = None,
    resolution: str | None = None,
) -> ReviewItemRecord:
    return ReviewItemRecord(
        id=item_id, model="m", version=1, prediction_id=f"p{item_id}", inputs={"x": 1},
        suggestion=suggestion, probabilities=None, confidence=confidence, interval=interval,
        reasons=["test"], blind=False, labels_required=labels_required,
        status=status,  # type: ignore[arg-type]
        label=label_value, resolution=resolution, claimed_by=None, lease_until=None,
        created_at=NOW, resolved_at=None, labels=labels or [],
    )  # fmt: skip
