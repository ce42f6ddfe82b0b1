from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from shipyard.review.stats import _agreement, _buckets, _traffic, wilson_interval
from tests.review.records import item, label


def _hand_kappa(first: list[str], second: list[str]) -> float:
    """Cohen's kappa from its definition: (observed - chance) / (1 - chance)."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    a, b = Counter(first), Counter(second)
    chance = sum(a[c] * b[c] for c in set(a) | set(b)) / (n * n)
    return (observed - chance) / (1 - chance)


def test_kappa_and_percent_agreement_match_a_hand_computation() -> None:
    first = ["yes", "yes", "no", "no", "yes", "no", "yes", "yes", "no", "yes"]
    second = ["yes", "no", "no", "no", "yes", "yes", "yes", "yes", "no", "no"]
    items = [
        item(
            item_id=i,
            labels_required=2,
            labels=[label("ana", a, item_id=i), label("bo", b, item_id=i)],
        )
        for i, (a, b) in enumerate(zip(first, second, strict=True))
    ]
    agreement, reviewers = _agreement(items, classifier=True)
    assert agreement.pairs == 10
    assert agreement.percent_agreement == pytest.approx(0.7)
    assert agreement.kappa == pytest.approx(_hand_kappa(first, second))
    by_name = {r.reviewer: r for r in reviewers}
    assert by_name["ana"].labels == by_name["bo"].labels == 10
    assert by_name["ana"].agreement_with_pair == pytest.approx(0.7)


def test_each_reviewer_is_scored_against_the_adjudicated_label() -> None:
    settled = item(
        item_id=1, status="resolved", labels_required=2, label_value="yes",
        resolution="adjudicated",
        labels=[label("ana", "yes"), label("bo", "no"), label("cy", "yes", action="adjudicate")],
    )  # fmt: skip
    _, reviewers = _agreement([settled], classifier=True)
    by_name = {r.reviewer: r for r in reviewers}
    assert by_name["ana"].agreement_with_adjudication == 1.0
    assert by_name["bo"].agreement_with_adjudication == 0.0
    assert by_name["cy"].adjudications == 1
    assert by_name["cy"].adjudicated == 0  # the adjudicator is not scored against themself


def test_regression_pairs_give_the_mean_absolute_difference() -> None:
    items = [
        item(item_id=1, labels_required=2, labels=[label("ana", 10.0), label("bo", 12.0)]),
        item(item_id=2, labels_required=2, labels=[label("ana", 5.0), label("bo", 1.0)]),
    ]
    agreement, _ = _agreement(items, classifier=False)
    assert agreement.mean_absolute_difference == pytest.approx(3.0)
    assert agreement.kappa is None


def test_buckets_count_first_labels_that_agree_with_the_model() -> None:
    items = [
        item(item_id=1, suggestion="yes", confidence=0.95, labels=[label("ana", "yes")]),
        item(item_id=2, suggestion="yes", confidence=0.92, labels=[label("ana", "no")]),
        item(item_id=3, suggestion="no", confidence=0.55, labels=[label("ana", "no")]),
        item(item_id=4, suggestion="no", confidence=0.51),  # not labelled yet
    ]
    buckets = {round(b.low, 1): b for b in _buckets(items, classifier=True)}
    assert (buckets[0.9].reviewed, buckets[0.9].agreed) == (2, 1)
    assert (buckets[0.5].reviewed, buckets[0.5].agreed) == (1, 1)
    assert sum(b.reviewed for b in buckets.values()) == 3


def test_wilson_interval_holds_the_proportion_and_narrows_with_more_data() -> None:
    low, high = wilson_interval(45, 50)
    assert low < 0.9 < high
    wide, narrow = wilson_interval(9, 10), wilson_interval(900, 1000)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


class _Package:
    """The two attributes ``_traffic`` reads, without a confidence model."""

    task = "classification"
    classes = ["no", "yes"]
    confidence = None


def test_the_real_traffic_threshold_is_the_lowest_that_meets_the_target() -> None:
    # Confidence = the larger probability; right answers down to 0.7, mixed below.
    scores = [0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.65, 0.6, 0.55, 0.52] * 4
    right = [True] * 5 + [True, False, True, False, False]
    frame = pd.DataFrame(
        {
            "probabilities": [{"yes": s, "no": 1 - s} for s in scores],
            "prediction": ["yes"] * len(scores),
            "label": ["yes" if r else "no" for r in right * 4],
        }
    )
    found = _traffic(frame, _Package(), 0.95)  # type: ignore[arg-type]
    assert found.threshold == pytest.approx(0.7)
    assert found.share == pytest.approx(0.6)
    assert found.precision == 1.0
    few = _traffic(frame.head(10), _Package(), 0.95)  # type: ignore[arg-type]
    assert few.threshold is None and "not enough" in few.note
