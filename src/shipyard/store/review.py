"""The review queue: predictions waiting for a person, the claims on them, and the labels.

The rules (how many labels an item needs, when two labels agree) live in
``shipyard.review``; this module stores and reads.  Claims are race-safe on SQLite and
PostgreSQL: a claim picks the oldest free item (skipping rows another transaction has
locked, on PostgreSQL) and takes it with a compare-and-set update, so two reviewers
claiming at once never get the same item.  Recording a label locks the item, and the
feedback row of a resolved item is written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shipyard.errors import InvalidRequest, RecordNotFound, ReviewConflict
from shipyard.store.database import Database
from shipyard.store.predictions import upsert_feedback
from shipyard.store.records import (
    NewReviewItem,
    QueueDepth,
    Resolution,
    ReviewAction,
    ReviewItemRecord,
    ReviewLabelRecord,
    ReviewStatus,
)
from shipyard.store.tables import ReviewItemRow, ReviewLabelRow, utcnow

__all__ = ["Decide", "ReviewRepository"]

# The review policy: given the item as it was and its labels including the new one,
# what the item becomes.
Decide = Callable[[ReviewItemRecord, list[ReviewLabelRecord]], Resolution]

MAX_REVIEWER_LENGTH = 100
_CHUNK = 500  # ids per IN (...) query
_CLAIM_ATTEMPTS = 5  # a claim that lost a race tries the next oldest item this many times
_STATUS_OF_ACTION = {"label": "open", "skip": "open", "adjudicate": "disputed"}
_FINISHED = ("resolved", "skipped", "expired")


def _check_reviewer(reviewer: str) -> None:
    if not 1 <= len(reviewer) <= MAX_REVIEWER_LENGTH:
        raise InvalidRequest(
            f"a reviewer's name has 1 to {MAX_REVIEWER_LENGTH} characters; got {len(reviewer)}",
            field="reviewer",
        )


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class ReviewRepository:
    """Stores and reads the review queue of one project."""

    def __init__(self, database: Database, project_id: int) -> None:
        self.database = database
        self.project_id = project_id

    # -- queueing -------------------------------------------------------------------

    def enqueue(self, items: Sequence[NewReviewItem]) -> int:
        """Queue ``items`` in one transaction; returns how many were new.

        An item whose prediction is already queued is left as it is, so that a server
        flushing the same batch twice queues it once.
        """
        now = utcnow()
        rows = {
            item.prediction_id: {
                "project_id": self.project_id,
                "model": item.model,
                "version": item.version,
                "prediction_id": item.prediction_id,
                "inputs": item.inputs,
                "suggestion": item.suggestion,
                "probabilities": item.probabilities,
                "confidence": item.confidence,
                "interval_low": None if item.interval is None else item.interval[0],
                "interval_high": None if item.interval is None else item.interval[1],
                "reasons": list(item.reasons),
                "blind": item.blind,
                "labels_required": item.labels_required,
                "status": "open",
                "created_at": now,
            }
            for item in items
        }
        if not rows:
            return 0
        dialect = postgresql if self.database.dialect == "postgresql" else sqlite
        statement = (
            dialect.insert(ReviewItemRow)
            .on_conflict_do_nothing(index_elements=["project_id", "prediction_id"])
            .returning(ReviewItemRow.id)
        )
        with self.database.writing(f"queueing {len(rows)} predictions for review") as session:
            return len(session.execute(statement, list(rows.values())).all())

    def expire(self, created_before: datetime) -> int:
        """Expire the open and disputed items queued before ``created_before``.

        A claim on an expired item is left in place, so that its holder is told the item
        expired rather than that they do not hold it.
        """
        with self.database.writing("expiring old review items") as session:
            result = session.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.project_id == self.project_id,
                    ReviewItemRow.status.in_(["open", "disputed"]),
                    ReviewItemRow.created_at < created_before,
                )
                .values(status="expired")
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- claiming -------------------------------------------------------------------

    def claim(
        self,
        model: str | None,
        reviewer: str,
        *,
        lease_seconds: float,
        adjudication: bool = False,
        now: datetime | None = None,
    ) -> ReviewItemRecord | None:
        """Hold the oldest item ``reviewer`` may act on for ``lease_seconds``; None if none.

        For labelling: an open item that ``reviewer`` has neither labelled nor skipped.
        For ``adjudication``: a disputed item that ``reviewer`` did not label.  An item
        is free when nobody holds it or its holder's lease has ended; an item the
        reviewer already holds is given again, with its lease renewed.
        """
        _check_reviewer(reviewer)
        now = now or utcnow()
        until = now + timedelta(seconds=lease_seconds)
        status = "disputed" if adjudication else "open"
        excluded = ["label"] if adjudication else ["label", "skip"]
        acted = exists().where(
            ReviewLabelRow.item_id == ReviewItemRow.id,
            ReviewLabelRow.reviewer == reviewer,
            ReviewLabelRow.action.in_(excluded),
        )
        matching: list[ColumnElement[bool]] = [
            ReviewItemRow.project_id == self.project_id,
            ReviewItemRow.status == status,
        ]
        if model is not None:
            matching.append(ReviewItemRow.model == model)
        free = or_(ReviewItemRow.claimed_by.is_(None), ReviewItemRow.lease_until < now)
        oldest = (ReviewItemRow.created_at, ReviewItemRow.id)
        action = f"claiming a review item for {reviewer}"
        for _ in range(_CLAIM_ATTEMPTS):
            with self.database.writing(action) as session:
                held = session.scalar(
                    select(ReviewItemRow.id)
                    .where(
                        *matching,
                        ReviewItemRow.claimed_by == reviewer,
                        ReviewItemRow.lease_until >= now,
                    )
                    .order_by(*oldest)
                    .limit(1)
                )
                candidate = held or session.scalar(
                    select(ReviewItemRow.id)
                    .where(*matching, free, ~acted)
                    .order_by(*oldest)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if candidate is None:
                    return None
                # Compare and set: the item is taken only if it is still as it was read.
                still_free = ReviewItemRow.claimed_by == reviewer if held else free
                taken = session.execute(
                    update(ReviewItemRow)
                    .where(ReviewItemRow.id == candidate, ReviewItemRow.status == status)
                    .where(still_free)
                    .values(claimed_by=reviewer, lease_until=until)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount:  # type: ignore[attr-defined]
                    return self._records(session, [self._row(session, candidate)])[0]
        return None

    def release(self, item_id: int, reviewer: str) -> None:
        """Give back ``reviewer``'s claim on item ``item_id``; nothing if they hold none."""
        _check_reviewer(reviewer)
        with self.database.writing(f"releasing review item {item_id}") as session:
            self._row(session, item_id)
            session.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item_id, ReviewItemRow.claimed_by == reviewer)
                .values(claimed_by=None, lease_until=None)
            )

    # -- labelling ------------------------------------------------------------------

    def record(
        self,
        item_id: int,
        reviewer: str,
        *,
        action: ReviewAction,
        label: Any,
        guideline_version: int | None,
        decide: Decide,
        now: datetime | None = None,
    ) -> ReviewItemRecord:
        """Record ``reviewer``'s ``action`` on the item they hold, and what it makes of it.

        ``decide`` sees the item as it was and its labels including this one, and says
        what the item becomes.  A resolved item's label is written to the feedback of
        its prediction, with how it was resolved as its source, in the same transaction;
        on any error nothing is changed.
        """
        _check_reviewer(reviewer)
        if action not in _STATUS_OF_ACTION:
            raise InvalidRequest(
                f"'{action}' is not a review action; use label, skip or adjudicate",
                field="action",
            )
        if action == "skip":
            label = None
        elif label is None:
            raise InvalidRequest(f"a label is needed to {action} item {item_id}", field="label")
        now = now or utcnow()
        with self.database.writing(f"recording a {action} of review item {item_id}") as session:
            row = self._row(session, item_id, lock=True)
            before = self._records(session, [row])[0]
            self._check_action(before, reviewer, action, now)
            session.add(
                ReviewLabelRow(
                    item_id=item_id,
                    reviewer=reviewer,
                    action=action,
                    label=label,
                    guideline_version=guideline_version,
                    created_at=now,
                )
            )
            session.flush()
            labels = self._labels(session, [item_id])[item_id]
            resolution = decide(before, labels)
            row.status = resolution.status
            row.labels_required = resolution.labels_required
            row.label = resolution.label
            row.resolution = resolution.resolution
            row.resolved_at = now if resolution.status == "resolved" else None
            row.claimed_by = None
            row.lease_until = None
            if resolution.status == "resolved":
                upsert_feedback(
                    session,
                    self.project_id,
                    {row.prediction_id: resolution.label},
                    source=resolution.resolution or "review",
                    now=now,
                )
            session.flush()
            return _item_record(row, labels)

    @staticmethod
    def _check_action(
        item: ReviewItemRecord, reviewer: str, action: ReviewAction, now: datetime
    ) -> None:
        """Refuse, with ``ReviewConflict``, an act the item's claim or status forbids."""
        number = item.id
        until = item.lease_until
        if item.status in _FINISHED:
            raise ReviewConflict(
                f"review item {number} is {item.status} already; claim another item",
                item_id=number,
            )
        if item.claimed_by != reviewer:
            if item.claimed_by is not None and until is not None and until >= now:
                raise ReviewConflict(
                    f"review item {number} is held by {item.claimed_by} until "
                    f"{until.isoformat()}; claim another item",
                    item_id=number,
                    holder=item.claimed_by,
                    until=until,
                )
            raise ReviewConflict(
                f"review item {number} is not claimed by {reviewer}; claim it first",
                item_id=number,
            )
        if until is None or until < now:
            raise ReviewConflict(
                f"your lease on item {number} ended at "
                f"{until.isoformat() if until else 'its release'}; claim it again",
                item_id=number,
            )
        needed = _STATUS_OF_ACTION[action]
        if item.status != needed:
            raise ReviewConflict(
                f"review item {number} is {item.status}; to {action} it, it must be {needed}",
                item_id=number,
            )
        if any(entry.reviewer == reviewer and entry.action == "label" for entry in item.labels):
            then = "another reviewer adjudicates it" if action == "adjudicate" else "once is all"
            raise ReviewConflict(
                f"{reviewer} already labelled item {number}; {then}", item_id=number
            )

    # -- reading --------------------------------------------------------------------

    def item(self, item_id: int) -> ReviewItemRecord:
        """Item ``item_id`` with its labels; ``RecordNotFound`` if there is none."""
        with self.database.reading(f"reading review item {item_id}") as session:
            return self._records(session, [self._row(session, item_id)])[0]

    def items(
        self,
        *,
        model: str | None = None,
        status: ReviewStatus | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[ReviewItemRecord]:
        """Queued items, oldest first, with their labels (``limit`` None: all)."""
        query = select(ReviewItemRow).where(ReviewItemRow.project_id == self.project_id)
        if model is not None:
            query = query.where(ReviewItemRow.model == model)
        if status is not None:
            query = query.where(ReviewItemRow.status == status)
        query = query.order_by(ReviewItemRow.created_at, ReviewItemRow.id)
        with self.database.reading("listing review items") as session:
            rows = list(session.scalars(query.limit(limit).offset(offset)))
            return self._records(session, rows)

    def reviewed(self, model: str) -> list[ReviewItemRecord]:
        """Every item of ``model`` someone labelled, oldest first, with all its labels."""
        labelled = exists().where(
            ReviewLabelRow.item_id == ReviewItemRow.id, ReviewLabelRow.action == "label"
        )
        query = (
            select(ReviewItemRow)
            .where(
                ReviewItemRow.project_id == self.project_id,
                ReviewItemRow.model == model,
                labelled,
            )
            .order_by(ReviewItemRow.created_at, ReviewItemRow.id)
        )
        with self.database.reading(f"reading the reviewed items of '{model}'") as session:
            return self._records(session, list(session.scalars(query)))

    def depth(self) -> list[QueueDepth]:
        """Per model: how many items are open and disputed, and when the oldest open one
        was queued."""
        is_open = ReviewItemRow.status == "open"
        query = (
            select(
                ReviewItemRow.model,
                func.count(case((is_open, 1))),
                func.count(case((ReviewItemRow.status == "disputed", 1))),
                func.min(case((is_open, ReviewItemRow.created_at))),
            )
            .where(
                ReviewItemRow.project_id == self.project_id,
                ReviewItemRow.status.in_(["open", "disputed"]),
            )
            .group_by(ReviewItemRow.model)
            .order_by(ReviewItemRow.model)
        )
        with self.database.reading("measuring the review queue") as session:
            rows = session.execute(query).all()
        return [
            QueueDepth(model=model, open=opened, disputed=disputed, oldest_open=oldest)
            for model, opened, disputed, oldest in rows
        ]

    # -- rows to records --------------------------------------------------------------

    def _row(self, session: Session, item_id: int, *, lock: bool = False) -> ReviewItemRow:
        query = select(ReviewItemRow).where(
            ReviewItemRow.id == item_id, ReviewItemRow.project_id == self.project_id
        )
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise RecordNotFound(
                f"review item {item_id} does not exist; `shipyard review list` lists them"
            )
        return row

    def _records(self, session: Session, rows: list[ReviewItemRow]) -> list[ReviewItemRecord]:
        labels = self._labels(session, [row.id for row in rows])
        return [_item_record(row, labels[row.id]) for row in rows]

    @staticmethod
    def _labels(session: Session, item_ids: list[int]) -> dict[int, list[ReviewLabelRecord]]:
        """The labels of the items, oldest first, in one query per 500 items."""
        found: dict[int, list[ReviewLabelRecord]] = {item_id: [] for item_id in item_ids}
        for chunk in _chunks(item_ids):
            rows = session.scalars(
                select(ReviewLabelRow)
                .where(ReviewLabelRow.item_id.in_(chunk))
                .order_by(ReviewLabelRow.id)
            )
            for row in rows:
                found[row.item_id].append(
                    ReviewLabelRecord(
                        id=row.id,
                        item_id=row.item_id,
                        reviewer=row.reviewer,
                        action=row.action,  # type: ignore[arg-type]
                        label=row.label,
                        guideline_version=row.guideline_version,
                        created_at=row.created_at,
                    )
                )
        return found


def _item_record(row: ReviewItemRow, labels: list[ReviewLabelRecord]) -> ReviewItemRecord:
    interval = None
    if row.interval_low is not None and row.interval_high is not None:
        interval = (row.interval_low, row.interval_high)
    return ReviewItemRecord(
        id=row.id,
        model=row.model,
        version=row.version,
        prediction_id=row.prediction_id,
        inputs=row.inputs,
        suggestion=row.suggestion,
        probabilities=row.probabilities,
        confidence=row.confidence,
        interval=interval,
        reasons=list(row.reasons),
        blind=row.blind,
        labels_required=row.labels_required,
        status=row.status,  # type: ignore[arg-type]
        label=row.label,
        resolution=row.resolution,
        claimed_by=row.claimed_by,
        lease_until=row.lease_until,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        labels=labels,
    )
