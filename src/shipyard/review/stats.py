"""Evidence for moving a model up (or down) an automation level, and label quality.

``review_stats`` answers four questions from the review labels and the feedback:

- **Where do people agree with the model?**  Per confidence bucket (a classifier's
  calibrated confidence; a regressor's interval width), how often the first reviewer's
  label matched the model's answer (a regressor's: fell inside its interval).  Blind
  items count too: their reviewers never saw the answer.
- **Are the answers decided alone right?**  The precision (classifiers) or mean absolute
  error and interval coverage (regressors) of answers that were never queued, measured
  on the feedback that arrived for them, with a 95% Wilson interval.
- **Which threshold would have met the target on real traffic?**  Over every labelled
  answer, the lowest calibrated confidence whose answers at or above it reach
  ``target_precision`` (classifiers; at least ``MIN_LABELS`` labels).
- **Do reviewers agree with each other?**  On double-labelled items: percent agreement
  and Cohen's kappa (classifiers) or mean absolute difference (regressors); per reviewer,
  agreement with their pair and with the adjudicated label.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

from shipyard.modeling.package import ModelPackage
from shipyard.store.records import ReviewItemRecord

__all__ = ["MIN_LABELS", "ReviewStats", "review_stats", "wilson_interval"]

MIN_LABELS = 30  # labelled answers before a threshold on real traffic is proposed
BUCKETS = 10


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    >>> [round(x, 3) for x in wilson_interval(45, 50)]
    [0.786, 0.957]
    """
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Bucket:
    """Reviewed items whose confidence (or interval width) is in ``[low, high)``."""

    low: float
    high: float
    reviewed: int
    agreed: int

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class AutoDecided:
    """Answers decided alone that got feedback, and how good they were."""

    labelled: int
    correct: int | None
    precision: float | None
    precision_low: float | None
    precision_high: float | None
    mean_absolute_error: float | None
    coverage: float | None


@dataclass(frozen=True)
class TrafficThreshold:
    """The threshold that would have met ``target`` on the labelled answers."""

    target: float | None
    labelled: int
    threshold: float | None
    share: float | None
    precision: float | None
    note: str


@dataclass(frozen=True)
class Agreement:
    """How often two reviewers of one item agreed."""

    pairs: int
    percent_agreement: float | None
    kappa: float | None
    mean_absolute_difference: float | None


@dataclass(frozen=True)
class ReviewerStats:
    reviewer: str
    labels: int
    skips: int
    adjudications: int
    paired: int
    agreement_with_pair: float | None
    adjudicated: int
    agreement_with_adjudication: float | None


@dataclass(frozen=True)
class ReviewStats:
    model: str
    task: str
    level: str
    statuses: dict[str, int]
    resolutions: dict[str, int]
    buckets: list[Bucket]
    auto: AutoDecided
    traffic: TrafficThreshold
    agreement: Agreement
    reviewers: list[ReviewerStats]

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["buckets"] = [
            {**asdict(bucket), "agreement": bucket.agreement} for bucket in self.buckets
        ]
        return body


def _first_label(item: ReviewItemRecord) -> Any:
    for label in item.labels:
        if label.action == "label":
            return label.label
    return None


def _agrees_with_model(item: ReviewItemRecord, label: Any, classifier: bool) -> bool:
    if classifier:
        return bool(label == item.suggestion)
    if item.interval is None:
        return False
    low, high = item.interval
    return bool(low <= label <= high)


def _buckets(items: Sequence[ReviewItemRecord], classifier: bool) -> list[Bucket]:
    scored = []
    for item in items:
        label = _first_label(item)
        if label is None:
            continue
        if classifier and item.confidence is not None:
            score = item.confidence
        elif not classifier and item.interval is not None:
            score = item.interval[1] - item.interval[0]
        else:
            continue
        scored.append((score, _agrees_with_model(item, label, classifier)))
    if not scored:
        return []
    if classifier:
        edges = np.linspace(0.0, 1.0, BUCKETS + 1)
    else:  # widths have no natural range: deciles of those seen
        edges = np.unique(np.quantile([score for score, _ in scored], np.linspace(0, 1, 6)))
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
    buckets = []
    for index in range(len(edges) - 1):
        low, high = float(edges[index]), float(edges[index + 1])
        last = index == len(edges) - 2
        inside = [
            agreed for score, agreed in scored
            if low <= score < high or (last and score == high)
        ]  # fmt: skip
        if inside:
            buckets.append(Bucket(low, high, len(inside), sum(inside)))
    return buckets


def _calibrated(package: ModelPackage, probabilities: Sequence[Any]) -> np.ndarray[Any, Any]:
    """Calibrated confidences of logged answers from their class -> probability maps."""
    confidence = package.confidence
    classes = [str(value) for value in package.classes or []]
    matrix = np.array(
        [[float(maps.get(name, 0.0)) for name in classes] for maps in probabilities],
        dtype=np.float64,
    )
    if confidence is None:
        top: np.ndarray[Any, Any] = matrix.max(axis=1)
        return top
    calibrated: np.ndarray[Any, Any] = np.asarray(confidence.confidence(matrix), dtype=np.float64)
    return calibrated


def _auto(labelled: Any, classifier: bool, package: ModelPackage) -> AutoDecided:
    count = len(labelled)
    if count == 0:
        return AutoDecided(0, None, None, None, None, None, None)
    truth = labelled["label"].tolist()
    answers = labelled["prediction"].tolist()
    if classifier:
        correct = sum(1 for t, a in zip(truth, answers, strict=True) if t == a)
        low, high = wilson_interval(correct, count)
        return AutoDecided(count, correct, correct / count, low, high, None, None)
    errors = np.abs(np.asarray(truth, dtype=np.float64) - np.asarray(answers, dtype=np.float64))
    coverage = None
    if package.confidence is not None:
        low_bound, high_bound = package.confidence.intervals(np.asarray(answers, dtype=np.float64))
        values = np.asarray(truth, dtype=np.float64)
        coverage = float(np.mean((low_bound <= values) & (values <= high_bound)))
    return AutoDecided(count, None, None, None, None, float(errors.mean()), coverage)


def _traffic(labelled: Any, package: ModelPackage, target: float | None) -> TrafficThreshold:
    count = len(labelled)
    if package.task != "classification" or target is None:
        return TrafficThreshold(
            target, count, None, None, None, "proposed for classifiers with a target precision"
        )
    if count < MIN_LABELS:
        return TrafficThreshold(
            target, count, None, None, None,
            f"not enough labelled answers ({count} < {MIN_LABELS})",
        )  # fmt: skip
    scores = _calibrated(package, labelled["probabilities"].tolist())
    right = (labelled["label"] == labelled["prediction"]).to_numpy(dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores, right = scores[order], right[order]
    precision = np.cumsum(right) / np.arange(1, count + 1)
    # The lowest threshold: the longest prefix (cut where scores change) meeting it.
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    meeting = ends[precision[ends] >= target]
    if len(meeting) == 0:
        return TrafficThreshold(
            target, count, None, 0.0, None, "no threshold reaches the target on these labels"
        )
    end = int(meeting[-1])
    return TrafficThreshold(
        target, count, float(scores[end]), (end + 1) / count, float(precision[end]),
        f"over {count} labelled answers",
    )  # fmt: skip


def _agreement(
    items: Sequence[ReviewItemRecord], classifier: bool
) -> tuple[Agreement, list[ReviewerStats]]:
    firsts, seconds = [], []
    paired: dict[str, list[bool]] = defaultdict(list)
    adjudicated: dict[str, list[bool]] = defaultdict(list)
    labels: dict[str, int] = defaultdict(int)
    skips: dict[str, int] = defaultdict(int)
    settled: dict[str, int] = defaultdict(int)
    differences = []
    for item in items:
        given = [label for label in item.labels if label.action == "label"]
        for label in item.labels:
            if label.action == "skip":
                skips[label.reviewer] += 1
            elif label.action == "adjudicate":
                settled[label.reviewer] += 1
            elif label.action == "label":
                labels[label.reviewer] += 1
        if len(given) >= 2:
            first, second = given[0], given[1]
            firsts.append(first.label)
            seconds.append(second.label)
            if classifier:
                same = first.label == second.label
            else:
                difference = abs(first.label - second.label)
                differences.append(difference)
                same = item.status != "disputed" and item.resolution != "adjudicated"
            paired[first.reviewer].append(same)
            paired[second.reviewer].append(same)
        if item.resolution == "adjudicated":
            for label in given:
                adjudicated[label.reviewer].append(
                    label.label == item.label if classifier
                    else abs(label.label - item.label) <= 1e-9 * max(1.0, abs(item.label))
                )  # fmt: skip
    pairs = len(firsts)
    percent = kappa = mad = None
    if pairs:
        if classifier:
            percent = sum(1 for a, b in zip(firsts, seconds, strict=True) if a == b) / pairs
            texts_a = [str(value) for value in firsts]
            texts_b = [str(value) for value in seconds]
            if len(set(texts_a) | set(texts_b)) > 1:
                kappa = float(cohen_kappa_score(texts_a, texts_b))
        else:
            mad = float(np.mean(differences))
            percent = sum(sum(v) for v in paired.values()) / (2 * pairs)
    reviewers = sorted(set(labels) | set(skips) | set(settled))
    per_reviewer = [
        ReviewerStats(
            reviewer=name,
            labels=labels[name],
            skips=skips[name],
            adjudications=settled[name],
            paired=len(paired[name]),
            agreement_with_pair=(sum(paired[name]) / len(paired[name])) if paired[name] else None,
            adjudicated=len(adjudicated[name]),
            agreement_with_adjudication=(
                sum(adjudicated[name]) / len(adjudicated[name]) if adjudicated[name] else None
            ),
        )
        for name in reviewers
    ]
    return Agreement(pairs, percent, kappa, mad), per_reviewer


def review_stats(
    *,
    model: str,
    level: str,
    package: ModelPackage,
    items: Sequence[ReviewItemRecord],
    labelled: Any,
    target_precision: float | None,
) -> ReviewStats:
    """The statistics of ``model``'s review (see the module docstring).

    ``items``: the model's queued items with their labels; ``labelled``: its logged
    answers that have feedback (``PredictionLog.predictions_with_feedback``), shadows
    excluded (those never queued were decided alone); ``package``: the version whose
    confidence model scores them.
    """
    classifier = package.task == "classification"
    statuses: dict[str, int] = defaultdict(int)
    resolutions: dict[str, int] = defaultdict(int)
    for item in items:
        statuses[item.status] += 1
        if item.resolution is not None:
            resolutions[item.resolution] += 1
    reviewed = [item for item in items if item.labels]
    queued = {item.prediction_id for item in items}
    auto_rows = labelled[~labelled["prediction_id"].isin(queued)]
    agreement, reviewers = _agreement(reviewed, classifier)
    return ReviewStats(
        model=model,
        task=package.task,
        level=level,
        statuses=dict(statuses),
        resolutions=dict(resolutions),
        buckets=_buckets(reviewed, classifier),
        auto=_auto(auto_rows, classifier, package),
        traffic=_traffic(labelled, package, target_precision),
        agreement=agreement,
        reviewers=reviewers,
    )
