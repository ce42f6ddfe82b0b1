"""A reviewer's label: checked against the model, and what it does to its item.

A label is checked before anything is stored: a classifier's label must be one of the
version's classes (``"1"`` is taken for the class ``1``, since a form sends text), a
regressor's a finite number.  ``resolve`` is the policy the store applies, in the
transaction that records the label, to the item's labels so far:

- one label is enough, unless the item was chosen for double labelling, or its first
  label contradicts a confident model (a confident answer marked wrong deserves a
  second look before it becomes training data);
- two labels that agree resolve the item (``agreed``; a regressor's is their mean);
  two that disagree make it ``disputed``, for adjudication;
- an adjudicator's label resolves a disputed item (``adjudicated``);
- a skip closes the item (``skipped``): it cannot be labelled as asked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.config import Task
from shipyard.errors import InvalidRequest
from shipyard.store.records import Resolution, ReviewItemRecord, ReviewLabelRecord

__all__ = ["LabelRules", "checked_label"]


def checked_label(label: Any, *, task: Task, classes: Sequence[Any] | None, model: str) -> Any:
    """``label`` as the model's own value (a class, or a float); ``InvalidRequest``
    naming the problem when it cannot be one."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        raise InvalidRequest("the label is missing", field="label")
    if task == "regression":
        if isinstance(label, bool) or not isinstance(label, int | float):
            raise InvalidRequest(
                f"the label of regression model '{model}' must be a number, not "
                f"{type(label).__name__} {label!r}",
                field="label",
            )
        if not math.isfinite(label):
            raise InvalidRequest(f"the label must be a finite number, not {label}", field="label")
        return float(label)
    known = list(classes or [])
    if isinstance(label, dict | list):
        raise InvalidRequest(
            f"the label must be one class, not {type(label).__name__}", field="label"
        )
    for value in known:
        if label == value and type(label) is type(value):
            return value
    for value in known:
        if str(label) == str(value):
            return value
    shown = ", ".join(repr(value) for value in known)
    raise InvalidRequest(
        f"{label!r} is not a class of model '{model}'; its classes are {shown}", field="label"
    )


@dataclass(frozen=True)
class LabelRules:
    """How labels resolve an item of one model version (see the module docstring).

    ``confident_at``: a classifier's calibrated confidence at or above which the model
    is confident (its automation threshold); a regressor is confident when its interval
    is at most ``confident_width`` wide.  ``tolerance``: regressors' labels agree when
    they differ by at most this share of their mean magnitude.
    """

    task: Task
    confident_at: float | None = None
    confident_width: float | None = None
    tolerance: float = 0.05

    def agree(self, first: Any, second: Any) -> bool:
        if self.task == "classification":
            return bool(first == second)
        scale = (abs(first) + abs(second)) / 2
        return bool(abs(first - second) <= self.tolerance * scale)

    def contradicts_confident_model(self, item: ReviewItemRecord, label: Any) -> bool:
        """Whether ``label`` says a confident answer was wrong."""
        if self.task == "classification":
            confident = (
                self.confident_at is not None
                and item.confidence is not None
                and item.confidence >= self.confident_at
            )
            return confident and label != item.suggestion
        if item.interval is None or self.confident_width is None:
            return False
        low, high = item.interval
        return high - low <= self.confident_width and not low <= label <= high

    def resolve(self, item: ReviewItemRecord, labels: Sequence[ReviewLabelRecord]) -> Resolution:
        """The item's state after ``labels`` (the new one last)."""
        latest = labels[-1]
        required = item.labels_required
        if latest.action == "skip":
            return Resolution(status="skipped", labels_required=required)
        if latest.action == "adjudicate":
            return Resolution(
                status="resolved", labels_required=required, label=latest.label,
                resolution="adjudicated",
            )  # fmt: skip
        given = [label.label for label in labels if label.action == "label"]
        if len(given) == 1 and required == 1:
            if self.contradicts_confident_model(item, given[0]):
                return Resolution(status="open", labels_required=2)
            return Resolution(
                status="resolved", labels_required=1, label=given[0], resolution="single"
            )
        if len(given) < required:
            return Resolution(status="open", labels_required=required)
        first, second = given[0], given[1]
        if not self.agree(first, second):
            return Resolution(status="disputed", labels_required=required)
        label = first if self.task == "classification" else (first + second) / 2
        return Resolution(
            status="resolved", labels_required=required, label=label, resolution="agreed"
        )
