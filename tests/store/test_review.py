"""The review queue on SQLite and PostgreSQL: queueing, claims and leases, the claim race,
labels and what they resolve, feedback written with the resolution, expiry and depth."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import InvalidRequest, RecordNotFound, ReviewConflict
from shipyard.store import MetadataStore
from shipyard.store.records import (
    NewReviewItem,
    Resolution,
    ReviewItemRecord,
    ReviewLabelRecord,
)
from shipyard.store.review import ReviewRepository

LEASE = 600.0


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[MetadataStore]:
    opened = MetadataStore(db_url, root=tmp_path, project="p")
    yield opened
    opened.close()


@pytest.fixture
def queue(store: MetadataStore) -> ReviewRepository:
    return store.review


def new_item(prediction_id: str, model: str = "m", **changes: Any) -> NewReviewItem:
    fields: dict[str, Any] = {
        "model": model, "version": 1, "prediction_id": prediction_id, "inputs": {"x": 1.5},
        "suggestion": "cat", "probabilities": {"cat": 0.6, "dog": 0.4}, "confidence": 0.6,
        "interval": None, "reasons": ["low confidence"], "blind": False, "labels_required": 1,
    } | changes  # fmt: skip
    return NewReviewItem(**fields)


def single(item: ReviewItemRecord, labels: list[ReviewLabelRecord]) -> Resolution:
    """One label resolves an item; a skip leaves it open."""
    last = labels[-1]
    if last.action == "skip":
        return Resolution(status="open", labels_required=item.labels_required)
    return Resolution("resolved", item.labels_required, label=last.label, resolution="single")


def double(item: ReviewItemRecord, labels: list[ReviewLabelRecord]) -> Resolution:
    """Two labels: agreement resolves, disagreement disputes; an adjudication decides."""
    given = [entry.label for entry in labels if entry.action == "label"]
    last = labels[-1]
    if last.action == "adjudicate":
        return Resolution("resolved", 2, label=last.label, resolution="adjudicated")
    if len(given) < 2:
        return Resolution("open", 2)
    if given[0] == given[1]:
        return Resolution("resolved", 2, label=given[0], resolution="agreed")
    return Resolution("disputed", 2)


def test_items_are_queued_once_with_everything_the_reviewer_needs(queue: ReviewRepository) -> None:
    interval = new_item("b", suggestion=210.5, probabilities=None, interval=(200.0, 230.0))
    assert queue.enqueue([new_item("a"), interval]) == 2
    assert queue.enqueue([new_item("a"), new_item("c")]) == 1  # "a" is queued already
    assert queue.enqueue([]) == 0

    first, second, third = queue.items()
    assert [first.prediction_id, second.prediction_id, third.prediction_id] == ["a", "b", "c"]
    assert (first.suggestion, first.probabilities, first.confidence) == (
        "cat",
        {"cat": 0.6, "dog": 0.4},
        0.6,
    )
    assert (first.inputs, first.reasons, first.interval, first.blind) == (
        {"x": 1.5},
        ["low confidence"],
        None,
        False,
    )
    assert (second.suggestion, second.interval) == (210.5, (200.0, 230.0))
    assert (first.status, first.labels, first.claimed_by, first.label) == ("open", [], None, None)
    assert queue.item(first.id) == first


def test_hundreds_of_items_are_queued_in_one_call(queue: ReviewRepository) -> None:
    items = [new_item(f"p{n}", model="m" if n % 2 else "n") for n in range(700)]
    assert queue.enqueue(items) == 700
    assert queue.enqueue(items[:350]) == 0
    assert len(queue.items(limit=1000)) == 700
    assert len(queue.items(model="n", limit=1000)) == 350
    assert [i.prediction_id for i in queue.items(limit=2, offset=10)] == ["p10", "p11"]


def test_an_unknown_item_is_named(queue: ReviewRepository) -> None:
    with pytest.raises(RecordNotFound, match="review item 12 does not exist"):
        queue.item(12)


def test_claims_take_the_oldest_free_item_of_the_model(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a", model="m"), new_item("b", model="n")])
    queue.enqueue([new_item("c", model="m")])

    ann = queue.claim("m", "ann", lease_seconds=LEASE)
    assert ann is not None and (ann.prediction_id, ann.claimed_by) == ("a", "ann")
    assert ann.lease_until is not None
    again = queue.claim("m", "ann", lease_seconds=LEASE)  # her claim, given again
    assert again is not None and again.id == ann.id
    bob = queue.claim("m", "bob", lease_seconds=LEASE)
    assert bob is not None and bob.prediction_id == "c"
    assert queue.claim("m", "cid", lease_seconds=LEASE) is None  # all of m's are held
    anyone = queue.claim(None, "cid", lease_seconds=LEASE)
    assert anyone is not None and anyone.prediction_id == "b"


def test_an_ended_lease_lets_another_reviewer_claim_the_item(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a")])
    start = datetime.now(UTC)
    held = queue.claim("m", "ann", lease_seconds=60, now=start)
    assert held is not None
    assert queue.claim("m", "bob", lease_seconds=60, now=start + timedelta(seconds=59)) is None
    later = start + timedelta(seconds=61)
    taken = queue.claim("m", "bob", lease_seconds=60, now=later)
    assert taken is not None and (taken.id, taken.claimed_by) == (held.id, "bob")
    with pytest.raises(ReviewConflict, match="held by bob until") as caught:
        queue.record(held.id, "ann", action="label", label="dog", guideline_version=None,
                     decide=single, now=later)  # fmt: skip
    assert (caught.value.holder, caught.value.until) == ("bob", taken.lease_until)


def test_a_released_item_can_be_claimed_by_another(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a")])
    held = queue.claim("m", "ann", lease_seconds=LEASE)
    assert held is not None
    queue.release(held.id, "bob")  # not bob's: nothing happens
    assert queue.item(held.id).claimed_by == "ann"
    queue.release(held.id, "ann")
    assert (queue.item(held.id).claimed_by, queue.item(held.id).lease_until) == (None, None)
    taken = queue.claim("m", "bob", lease_seconds=LEASE)
    assert taken is not None and taken.id == held.id
    with pytest.raises(RecordNotFound):
        queue.release(999, "ann")


def test_reviewer_names_are_checked(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a")])
    for name in ("", "x" * 101):
        with pytest.raises(InvalidRequest, match="1 to 100 characters") as caught:
            queue.claim("m", name, lease_seconds=LEASE)
        assert caught.value.field == "reviewer"
    assert queue.items()[0].claimed_by is None


def test_a_label_resolves_the_item_and_writes_its_feedback(store: MetadataStore) -> None:
    queue = store.review
    queue.enqueue([new_item("a"), new_item("b")])
    held = queue.claim("m", "ann", lease_seconds=LEASE)
    assert held is not None
    done = queue.record(held.id, "ann", action="label", label="dog", guideline_version=3,
                        decide=single)  # fmt: skip
    assert (done.status, done.label, done.resolution) == ("resolved", "dog", "single")
    assert (done.claimed_by, done.lease_until) == (None, None)
    assert done.resolved_at is not None
    (entry,) = done.labels
    assert (entry.reviewer, entry.action, entry.label, entry.guideline_version) == (
        "ann",
        "label",
        "dog",
        3,
    )
    assert queue.item(held.id) == done
    (feedback,) = store.predictions.feedback()
    assert (feedback.prediction_id, feedback.label, feedback.source) == ("a", "dog", "single")
    assert queue.claim("m", "ann", lease_seconds=LEASE) is not None  # "b", not "a" again


def test_a_skip_leaves_the_item_to_others(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a")])
    held = queue.claim("m", "ann", lease_seconds=LEASE)
    assert held is not None
    skipped = queue.record(held.id, "ann", action="skip", label="ignored",
                           guideline_version=None, decide=single)  # fmt: skip
    assert (skipped.status, skipped.claimed_by, skipped.labels[0].label) == ("open", None, None)
    assert queue.claim("m", "ann", lease_seconds=LEASE) is None  # she skipped it
    other = queue.claim("m", "bob", lease_seconds=LEASE)
    assert other is not None and other.id == held.id


def test_two_labels_that_disagree_go_to_an_adjudicator_who_did_not_label(
    store: MetadataStore,
) -> None:
    queue = store.review
    queue.enqueue([new_item("a", labels_required=2)])
    item_id = queue.items()[0].id

    def label(reviewer: str, value: str) -> ReviewItemRecord:
        held = queue.claim("m", reviewer, lease_seconds=LEASE)
        assert held is not None and held.id == item_id
        return queue.record(item_id, reviewer, action="label", label=value,
                            guideline_version=1, decide=double)  # fmt: skip

    assert label("ann", "cat").status == "open"
    assert queue.claim("m", "ann", lease_seconds=LEASE) is None  # she labelled it
    disputed = label("bob", "dog")
    assert (disputed.status, [e.label for e in disputed.labels]) == ("disputed", ["cat", "dog"])
    assert store.predictions.feedback() == []
    assert queue.claim("m", "cid", lease_seconds=LEASE) is None  # not open any more

    for labeller in ("ann", "bob"):
        assert queue.claim("m", labeller, lease_seconds=LEASE, adjudication=True) is None
    judge = queue.claim("m", "cid", lease_seconds=LEASE, adjudication=True)
    assert judge is not None and judge.id == item_id
    with pytest.raises(ReviewConflict, match="is disputed; to label it, it must be open"):
        queue.record(item_id, "cid", action="label", label="dog", guideline_version=1,
                     decide=double)  # fmt: skip
    final = queue.record(item_id, "cid", action="adjudicate", label="dog", guideline_version=1,
                         decide=double)  # fmt: skip
    assert (final.status, final.label, final.resolution) == ("resolved", "dog", "adjudicated")
    assert [e.action for e in final.labels] == ["label", "label", "adjudicate"]
    (feedback,) = store.predictions.feedback()
    assert (feedback.label, feedback.source) == ("dog", "adjudicated")
    assert [i.id for i in queue.reviewed("m")] == [item_id]


def test_agreeing_labels_resolve_as_agreed(store: MetadataStore) -> None:
    queue = store.review
    queue.enqueue([new_item("a", labels_required=2)])
    for reviewer in ("ann", "bob"):
        held = queue.claim("m", reviewer, lease_seconds=LEASE)
        assert held is not None
        done = queue.record(held.id, reviewer, action="label", label="cat",
                            guideline_version=None, decide=double)  # fmt: skip
    assert (done.status, done.resolution) == ("resolved", "agreed")
    assert [(f.label, f.source) for f in store.predictions.feedback()] == [("cat", "agreed")]


def test_refused_records_change_nothing(store: MetadataStore) -> None:
    queue = store.review
    queue.enqueue([new_item("a"), new_item("b")])
    first, second = queue.items()
    start = datetime.now(UTC)
    assert queue.claim("m", "ann", lease_seconds=60, now=start) is not None
    arguments: dict[str, Any] = {"guideline_version": None, "decide": single}

    with pytest.raises(RecordNotFound, match="review item 999 does not exist"):
        queue.record(999, "ann", action="label", label="dog", **arguments)
    with pytest.raises(ReviewConflict, match=f"item {second.id} is not claimed by ann; claim"):
        queue.record(second.id, "ann", action="label", label="dog", **arguments)
    with pytest.raises(ReviewConflict, match="held by ann until") as caught:
        queue.record(first.id, "bob", action="label", label="dog", **arguments)
    assert caught.value.holder == "ann"
    with pytest.raises(ReviewConflict, match="is open; to adjudicate it, it must be disputed"):
        queue.record(first.id, "ann", action="adjudicate", label="dog", **arguments)
    with pytest.raises(InvalidRequest, match="a label is needed") as missing:
        queue.record(first.id, "ann", action="label", label=None, **arguments)
    assert missing.value.field == "label"
    with pytest.raises(InvalidRequest, match="'guess' is not a review action"):
        queue.record(first.id, "ann", action="guess", label="x", **arguments)  # type: ignore[arg-type]
    ended = start + timedelta(seconds=61)
    with pytest.raises(ReviewConflict, match=f"your lease on item {first.id} ended at .*again"):
        queue.record(first.id, "ann", action="label", label="dog", now=ended, **arguments)

    def broken(item: ReviewItemRecord, labels: list[ReviewLabelRecord]) -> Resolution:
        raise RuntimeError("the policy failed")

    with pytest.raises(RuntimeError, match="the policy failed"):
        queue.record(first.id, "ann", action="label", label="dog", guideline_version=None,
                     decide=broken)  # fmt: skip

    assert queue.items()[1] == second
    after = queue.item(first.id)
    assert (after.status, after.labels, after.claimed_by) == ("open", [], "ann")
    assert store.predictions.feedback() == []
    assert queue.reviewed("m") == []


def test_concurrent_claims_never_share_an_item(
    db_url: str, tmp_path: Path, queue: ReviewRepository
) -> None:
    queue.enqueue([new_item(f"p{n}") for n in range(40)])
    reviewers = [f"r{n}" for n in range(6)]
    claimed: dict[str, list[int]] = {name: [] for name in reviewers}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(reviewers))

    def work(name: str) -> None:
        own = MetadataStore(db_url, root=tmp_path, project="p")
        try:
            barrier.wait()
            while True:
                held = own.review.claim("m", name, lease_seconds=LEASE)
                if held is None:
                    return
                claimed[name].append(held.id)
                own.review.record(held.id, name, action="skip", label=None,
                                  guideline_version=None, decide=_skip_for_good)  # fmt: skip
                # A reviewer takes a moment per item. Without it, on a loaded machine one
                # thread can take the whole queue while SQLite's busy handler keeps the
                # others backing off, and nothing races.
                time.sleep(0.005)
        except BaseException as exc:  # reported to the test's thread below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    every = [item_id for ids in claimed.values() for item_id in ids]
    assert len(every) == len(set(every)) == 40  # each item claimed once, none lost
    assert sum(1 for ids in claimed.values() if ids) > 1  # the reviewers did race
    assert {item.status for item in queue.items()} == {"skipped"}


def _skip_for_good(item: ReviewItemRecord, labels: list[ReviewLabelRecord]) -> Resolution:
    return Resolution("skipped", item.labels_required)


def test_old_items_expire_and_leave_the_queue(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a"), new_item("b", labels_required=2)])
    held = queue.claim("m", "ann", lease_seconds=LEASE)
    assert held is not None
    queue.record(held.id, "ann", action="label", label="dog", guideline_version=None,
                 decide=single)  # fmt: skip
    pending = queue.claim("m", "bob", lease_seconds=LEASE)
    assert pending is not None and pending.prediction_id == "b"
    assert queue.expire(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert queue.expire(datetime.now(UTC) + timedelta(seconds=1)) == 1
    statuses = {item.prediction_id: item.status for item in queue.items()}
    assert statuses == {"a": "resolved", "b": "expired"}
    assert queue.claim(None, "bob", lease_seconds=LEASE) is None
    assert queue.depth() == []
    for item_id, message in ((pending.id, "is expired already"), (held.id, "is resolved already")):
        with pytest.raises(ReviewConflict, match=f"review item {item_id} {message}"):
            queue.record(item_id, "bob", action="label", label="cat", guideline_version=None,
                         decide=single)  # fmt: skip
    assert queue.item(pending.id).labels == []


def test_depth_counts_open_and_disputed_items_per_model(queue: ReviewRepository) -> None:
    before = datetime.now(UTC)
    queue.enqueue([new_item("a", model="m", labels_required=2), new_item("b", model="n")])
    queue.enqueue([new_item("c", model="m")])
    for reviewer, label in (("ann", "cat"), ("bob", "dog")):
        held = queue.claim("m", reviewer, lease_seconds=LEASE)
        assert held is not None and held.prediction_id == "a"
        queue.record(held.id, reviewer, action="label", label=label, guideline_version=None,
                     decide=double)  # fmt: skip
    m, n = queue.depth()
    assert (m.model, m.open, m.disputed) == ("m", 1, 1)
    assert (n.model, n.open, n.disputed) == ("n", 1, 0)
    c = queue.items(model="m", status="open")[0]
    assert m.oldest_open == c.created_at and m.oldest_open is not None
    assert m.oldest_open >= before
    assert [i.prediction_id for i in queue.items(status="disputed")] == ["a"]


def test_reviewed_items_are_those_someone_labelled(queue: ReviewRepository) -> None:
    queue.enqueue([new_item("a"), new_item("b"), new_item("c", model="n")])
    for prediction_id, action in (("a", "label"), ("b", "skip")):
        held = queue.claim("m", "ann", lease_seconds=LEASE)
        assert held is not None and held.prediction_id == prediction_id
        queue.record(held.id, "ann", action=action, label="cat", guideline_version=None,  # type: ignore[arg-type]
                     decide=single)  # fmt: skip
    (reviewed,) = queue.reviewed("m")
    assert (reviewed.prediction_id, [e.label for e in reviewed.labels]) == ("a", ["cat"])
    assert queue.reviewed("n") == []
