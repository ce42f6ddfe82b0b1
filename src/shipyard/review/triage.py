"""Triage: per answered row, is the answer a decision, or a suggestion for review?

At ``full`` every answer is a decision and nothing is computed.  At ``partial`` an
answer is decided alone when the version's confidence model says it may be: a
classifier's calibrated confidence at or above the plan's threshold, a regressor's
conformal interval at most the plan's width; and only when its inputs look like the
training data (a value outside the schema's range or a category the schema has not
seen always goes to review: confidence measured on the eval split says nothing there).
At ``assist`` and ``shadow`` every answer is queued; at ``shadow`` it is *blind*: the
caller and the reviewer do not see it, and it is logged to measure agreement.

A share of queued items (``double_label_share``, chosen by the prediction id, so the
choice is the same in every process) is labelled by two reviewers.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.modeling.confidence import AutomationPlan
from shipyard.modeling.package import ModelPackage, Predictions
from shipyard.review.automation import AutomationState
from shipyard.store.records import NewReviewItem

__all__ = ["Triage", "Verdicts"]

AUTO = "auto"
REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The triage of a batch of rows: per row its decision, confidence or interval, and
    why it was queued (empty for a decision)."""

    decisions: list[str]
    confidences: list[float] | None
    intervals: list[tuple[float, float]] | None
    reasons: list[list[str]]


class Triage:
    """How one served model version triages its answers at its model's level."""

    __slots__ = ("blind", "level", "model", "package", "plan", "share", "version")

    def __init__(
        self,
        state: AutomationState,
        model: str,
        version: int,
        package: ModelPackage,
        *,
        double_label_share: float,
    ) -> None:
        self.level = state.level
        self.model = model
        self.version = version
        self.package = package
        self.blind = state.level == "shadow"
        self.share = double_label_share
        self.plan: AutomationPlan | None = state.plan(package)

    @property
    def queues(self) -> bool:
        """Whether any answer can go to review (every level but ``full``)."""
        return self.level != "full"

    def sort(self, predictions: Predictions, novelties: Sequence[list[str]]) -> Verdicts:
        """The verdict on each row of ``predictions``; ``novelties`` names per row the
        inputs unlike the training data."""
        count = len(predictions.values)
        confidence = self.package.confidence
        confidences: list[float] | None = None
        intervals: list[tuple[float, float]] | None = None
        scores: np.ndarray[Any, Any] | None = None
        if confidence is not None and predictions.probabilities is not None:
            scores = confidence.confidence(predictions.probabilities)
            confidences = scores.tolist()
        elif confidence is not None:
            low, high = confidence.intervals(np.asarray(predictions.values, dtype=np.float64))
            intervals = list(zip(low.tolist(), high.tolist(), strict=True))
            scores = high - low
        if self.level != "partial":
            reason = "shadow: every item is labelled blind"
            if not self.blind:
                reason = "assist: every answer is a suggestion"
            return Verdicts([REVIEW] * count, confidences, intervals, [[reason]] * count)
        plan = self.plan
        decisions, reasons = [], []
        for row in range(count):
            why = list(novelties[row])
            if scores is None or plan is None:
                why.append("the version has no confidence model")
            elif plan.threshold is None:
                why.append("no threshold meets the target on the eval split")
            elif confidences is not None and scores[row] < plan.threshold:
                why.append(f"confidence {scores[row]:.3f} < {plan.threshold:.3f}")
            elif confidences is None and scores[row] > plan.threshold:
                why.append(f"interval width {scores[row]:.4g} > {plan.threshold:.4g}")
            decisions.append(REVIEW if why else AUTO)
            reasons.append(why)
        return Verdicts(decisions, confidences, intervals, reasons)

    def items(
        self,
        verdicts: Verdicts,
        begin: int,
        ids: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        predictions: Predictions,
    ) -> list[NewReviewItem]:
        """The review items of rows ``begin`` to ``begin + len(ids)`` of ``verdicts``
        (``predictions`` holds just those rows)."""
        maps = predictions.probability_maps
        items = []
        for offset, prediction_id in enumerate(ids):
            row = begin + offset
            if verdicts.decisions[row] != REVIEW:
                continue
            double = zlib.crc32(prediction_id.encode()) / 2**32 < self.share
            items.append(
                NewReviewItem(
                    model=self.model,
                    version=self.version,
                    prediction_id=prediction_id,
                    inputs=dict(rows[offset]),
                    suggestion=predictions.values[offset],
                    probabilities=None if maps is None else maps[offset],
                    confidence=None if verdicts.confidences is None else verdicts.confidences[row],
                    interval=None if verdicts.intervals is None else verdicts.intervals[row],
                    reasons=verdicts.reasons[row],
                    blind=self.blind,
                    labels_required=2 if double else 1,
                )
            )
        return items
