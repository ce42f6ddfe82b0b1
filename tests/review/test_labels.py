from __future__ import annotations

import pytest

from shipyard.errors import InvalidRequest
from shipyard.review import LabelRules, checked_label
from tests.review.records import item, label


def test_a_class_label_is_the_models_own_value() -> None:
    assert checked_label("yes", task="classification", classes=["no", "yes"], model="m") == "yes"
    # A form sends text: "1" is the class 1, and the stored label is the integer.
    found = checked_label("1", task="classification", classes=[0, 1], model="m")
    assert found == 1 and isinstance(found, int)


@pytest.mark.parametrize("given", ["maybe", 3, {"a": 1}, [1], None])
def test_an_unknown_class_or_shape_is_refused_by_name(given: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        checked_label(given, task="classification", classes=["no", "yes"], model="m")
    assert caught.value.field == "label"


def test_a_regression_label_must_be_a_finite_number() -> None:
    assert checked_label(3, task="regression", classes=None, model="m") == 3.0
    for given in ("12.5", True, float("inf"), None):
        with pytest.raises(InvalidRequest, match="label|number"):
            checked_label(given, task="regression", classes=None, model="m")


def test_one_label_resolves_a_single_item() -> None:
    rules = LabelRules(task="classification", confident_at=0.9)
    resolution = rules.resolve(item(confidence=0.5), [label("ana", "no")])
    assert (resolution.status, resolution.label, resolution.resolution) == (
        "resolved",
        "no",
        "single",
    )


def test_contradicting_a_confident_model_asks_for_a_second_label() -> None:
    rules = LabelRules(task="classification", confident_at=0.9)
    confident = item(suggestion="yes", confidence=0.95)
    assert rules.resolve(confident, [label("ana", "no")]).status == "open"
    assert rules.resolve(confident, [label("ana", "no")]).labels_required == 2
    # Agreeing with it, or contradicting an unsure model, is enough alone.
    assert rules.resolve(confident, [label("ana", "yes")]).status == "resolved"
    assert rules.resolve(item(suggestion="yes", confidence=0.6), [label("ana", "no")]).status == (
        "resolved"
    )


def test_two_labels_agree_or_dispute() -> None:
    rules = LabelRules(task="classification")
    double = item(labels_required=2)
    assert rules.resolve(double, [label("ana", "no")]).status == "open"
    agreed = rules.resolve(double, [label("ana", "no"), label("bo", "no")])
    assert (agreed.status, agreed.label, agreed.resolution) == ("resolved", "no", "agreed")
    assert rules.resolve(double, [label("ana", "no"), label("bo", "yes")]).status == "disputed"


def test_regression_labels_agree_within_the_tolerance_and_resolve_to_their_mean() -> None:
    rules = LabelRules(task="regression", tolerance=0.05)
    double = item(suggestion=100.0, confidence=None, interval=(90.0, 110.0), labels_required=2)
    agreed = rules.resolve(double, [label("ana", 100.0), label("bo", 104.0)])
    assert (agreed.status, agreed.label) == ("resolved", 102.0)
    assert rules.resolve(double, [label("ana", 100.0), label("bo", 120.0)]).status == "disputed"


def test_a_regressor_confident_interval_missed_by_the_label_asks_for_a_second() -> None:
    rules = LabelRules(task="regression", confident_width=30.0)
    narrow = item(suggestion=100.0, confidence=None, interval=(90.0, 110.0))
    assert rules.resolve(narrow, [label("ana", 150.0)]).labels_required == 2
    assert rules.resolve(narrow, [label("ana", 105.0)]).status == "resolved"


def test_adjudication_and_skip_close_the_item() -> None:
    rules = LabelRules(task="classification")
    disputed = item(status="disputed", labels_required=2)
    labels = [label("ana", "no"), label("bo", "yes"), label("cy", "yes", action="adjudicate")]
    settled = rules.resolve(disputed, labels)
    assert (settled.status, settled.label, settled.resolution) == ("resolved", "yes", "adjudicated")
    assert rules.resolve(item(), [label("ana", "unclear", action="skip")]).status == "skipped"
