"""The review queue: people label the answers the model was not trusted to decide.

Items are queued by the server (see ``Triage``).  A reviewer *claims* the oldest item
they may label, with a lease: nobody else gets it until it is labelled, skipped,
released or the lease runs out.  A reviewer sees the inputs, the model's suggestion
(not at the ``shadow`` level: blind), why the item was queued and the model's labelling
guideline; never another reviewer's label on an item still open.  Labels are checked
against the version (a class it knows, or a number) before anything is stored; the
store applies ``LabelRules`` and, when an item is resolved, writes its label as the
prediction's feedback in the same transaction: one place for ground truth, and a
disputed item never becomes training data before it is adjudicated.

Guidelines are Markdown files in the project, ``guidelines/MODEL.md`` (the ``review``
section's ``guidelines`` folder); a changed file is recorded as a new version, and each
label records the version it was given under.

>>> queue = project.review  # doctest: +SKIP
>>> item = queue.claim("ana", model="churn")  # doctest: +SKIP
>>> queue.label(item.id, "ana", "yes")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config import ReviewSettings
from shipyard.errors import InvalidRequest, ReviewConflict
from shipyard.modeling.package import ModelPackage
from shipyard.registry import ModelRegistry
from shipyard.review.automation import Automation
from shipyard.review.labels import LabelRules, checked_label
from shipyard.review.stats import ReviewStats, review_stats
from shipyard.store import MetadataStore
from shipyard.store.records import GuidelineRecord, QueueDepth, ReviewItemRecord, ReviewStatus
from shipyard.store.tables import utcnow

if TYPE_CHECKING:
    from shipyard.prediction_log import PredictionLog

__all__ = ["MAX_REVIEWER_LENGTH", "ReviewQueue", "ReviewView"]

MAX_REVIEWER_LENGTH = 100
_CLOSED = ("resolved", "skipped", "expired")


@dataclass(frozen=True)
class ReviewView:
    """An item as a reviewer may see it: the suggestion unless blind, other labels only
    once the item is disputed or closed, and the guideline in force."""

    item: ReviewItemRecord
    guideline: GuidelineRecord | None

    def to_dict(self) -> dict[str, Any]:
        item = self.item
        hidden = item.blind and item.status not in _CLOSED
        shown_labels = item.status not in ("open",)
        return {
            "id": item.id,
            "model": item.model,
            "version": item.version,
            "prediction_id": item.prediction_id,
            "status": item.status,
            "inputs": item.inputs,
            "suggestion": None if hidden else item.suggestion,
            "probabilities": None if hidden else item.probabilities,
            "confidence": None if hidden else item.confidence,
            "interval": None if hidden or item.interval is None else list(item.interval),
            "blind": item.blind,
            "reasons": item.reasons,
            "labels_required": item.labels_required,
            "labels_given": sum(1 for label in item.labels if label.action == "label"),
            "labels": [
                {
                    "reviewer": label.reviewer,
                    "action": label.action,
                    "label": label.label,
                    "guideline_version": label.guideline_version,
                    "at": label.created_at.isoformat(),
                }
                for label in item.labels
            ]
            if shown_labels
            else [],
            "label": item.label,
            "resolution": item.resolution,
            "claimed_by": item.claimed_by,
            "lease_until": None if item.lease_until is None else item.lease_until.isoformat(),
            "created_at": item.created_at.isoformat(),
            "guideline": None
            if self.guideline is None
            else {"version": self.guideline.version, "text": self.guideline.text},
        }


def _check_reviewer(reviewer: str) -> str:
    name = reviewer.strip() if isinstance(reviewer, str) else ""
    if not 0 < len(name) <= MAX_REVIEWER_LENGTH:
        raise InvalidRequest(
            f"a reviewer is named by 1 to {MAX_REVIEWER_LENGTH} characters, not {reviewer!r}",
            field="reviewer",
        )
    return name


class ReviewQueue:
    """The review queue of a project's models: claim, label, skip, adjudicate."""

    def __init__(
        self,
        store: MetadataStore,
        registry: ModelRegistry,
        settings: ReviewSettings,
        automation: Automation,
        *,
        root: Path,
        log: PredictionLog,
    ) -> None:
        self.store = store
        self.log = log
        self.registry = registry
        self.settings = settings
        self.automation = automation
        self.guidelines_folder = root / settings.guidelines

    # -- guidelines -------------------------------------------------------------------

    def guideline(self, model: str) -> GuidelineRecord | None:
        """Model ``model``'s guideline now: the file's text, recorded as a new version
        when it changed (None when there is no file and none was ever recorded)."""
        path = self.guidelines_folder / f"{model}.md"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self.store.guidelines.latest(model)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot read the guideline {path}: {exc}") from exc
        return self.store.guidelines.record(model, text, author=str(path.name))

    def guideline_history(self, model: str) -> list[GuidelineRecord]:
        self.guideline(model)
        return self.store.guidelines.history(model)

    # -- reading ------------------------------------------------------------------------

    def view(self, item: ReviewItemRecord) -> ReviewView:
        return ReviewView(item, self.guideline(item.model))

    def views(self, items: list[ReviewItemRecord]) -> list[ReviewView]:
        """``items`` as reviewers see them (each model's guideline read once)."""
        guidelines = {model: self.guideline(model) for model in {item.model for item in items}}
        return [ReviewView(item, guidelines[item.model]) for item in items]

    def item(self, item_id: int) -> ReviewView:
        """Item ``item_id`` as a reviewer sees it; unknown ids raise ``RecordNotFound``."""
        return self.view(self.store.review.item(item_id))

    def items(
        self,
        *,
        model: str | None = None,
        status: ReviewStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ReviewItemRecord]:
        """Queued items, oldest first."""
        return self.store.review.items(model=model, status=status, limit=limit, offset=offset)

    def depth(self) -> list[QueueDepth]:
        """Per model: open and disputed items, and when the oldest open one came."""
        return self.store.review.depth()

    # -- working the queue ----------------------------------------------------------------

    def expire(self) -> int:
        """Close the items older than ``review.expire_hours``; returns how many."""
        cutoff = utcnow() - timedelta(hours=self.settings.expire_hours)
        return self.store.review.expire(cutoff)

    def claim(
        self, reviewer: str, *, model: str | None = None, adjudication: bool = False
    ) -> ReviewView | None:
        """The next item for ``reviewer``, held for ``review.lease_seconds`` (None: the
        queue has nothing for them).  ``adjudication`` takes a disputed item instead."""
        name = _check_reviewer(reviewer)
        if model is not None:
            self.registry.versions(model)  # an unknown model is a ModelNotFound
        self.expire()
        item = self.store.review.claim(
            model, name, lease_seconds=self.settings.lease_seconds, adjudication=adjudication
        )
        return None if item is None else self.view(item)

    def release(self, item_id: int, reviewer: str) -> ReviewItemRecord:
        """Give an item you hold back to the queue, unlabelled; releasing an item you do
        not hold is a ``ReviewConflict``."""
        name = _check_reviewer(reviewer)
        item = self.store.review.item(item_id)
        if item.claimed_by != name:
            holder = "nobody" if item.claimed_by is None else item.claimed_by
            raise ReviewConflict(
                f"review item {item_id} is held by {holder}, not {name}; nothing to release",
                item_id=item_id,
                holder=item.claimed_by,
            )
        self.store.review.release(item_id, name)
        return self.store.review.item(item_id)

    def _package(self, item: ReviewItemRecord) -> ModelPackage:
        return self.registry.load(f"{item.model}:{item.version}").package

    def _rules(self, item: ReviewItemRecord, package: ModelPackage) -> LabelRules:
        # The item's model exists: its level is read without the registry's check.
        plan = self.automation.states([item.model])[item.model].plan(package)
        threshold = None if plan is None else plan.threshold
        classifier = package.task == "classification"
        return LabelRules(
            task=package.task,
            confident_at=threshold if classifier else None,
            confident_width=None if classifier else threshold,
            tolerance=self.settings.label_tolerance,
        )

    def _record(self, item_id: int, reviewer: str, action: str, label: Any) -> ReviewItemRecord:
        name = _check_reviewer(reviewer)
        item = self.store.review.item(item_id)
        package = self._package(item)
        if action != "skip":
            label = checked_label(
                label, task=package.task, classes=package.classes, model=item.model
            )
        guideline = self.guideline(item.model)
        rules = self._rules(item, package)
        return self.store.review.record(
            item_id,
            name,
            action=action,  # type: ignore[arg-type]
            label=label,
            guideline_version=None if guideline is None else guideline.version,
            decide=rules.resolve,
        )

    def label(self, item_id: int, reviewer: str, label: Any) -> ReviewItemRecord:
        """Label a claimed item.  A wrong type or an unknown class is an
        ``InvalidRequest``; an item held by someone else, a lease that ran out or an
        unknown id raise (``ReviewConflict``, ``RecordNotFound``) and change nothing."""
        return self._record(item_id, reviewer, "label", label)

    def skip(self, item_id: int, reviewer: str, reason: str = "") -> ReviewItemRecord:
        """Close a claimed item that cannot be labelled as asked; ``reason`` is kept."""
        return self._record(item_id, reviewer, "skip", reason or None)

    def adjudicate(self, item_id: int, reviewer: str, label: Any) -> ReviewItemRecord:
        """Settle a disputed item (claimed with ``adjudication=True``): its label becomes
        the prediction's feedback."""
        return self._record(item_id, reviewer, "adjudicate", label)

    # -- evidence ---------------------------------------------------------------------

    def stats(self, model: str, *, version: int | None = None) -> ReviewStats:
        """How people and the model agree, how good the answers decided alone were, and
        how reviewers agree with each other (see ``shipyard.review.stats``), for the
        answers of ``version`` (default: production)."""
        record = (
            self.registry.resolve(model)
            if version is None
            else self.registry.resolve(f"{model}:{version}")
        )
        package = self.registry.load(record).package
        state = self.automation.state(model)
        items = self.store.review.items(model=model, limit=None)
        labelled = self.log.predictions_with_feedback(model=model)
        labelled = labelled[
            (labelled["version"] == record.version) & (labelled["variant"] != "shadow")
        ]
        return review_stats(
            model=model,
            level=state.level,
            package=package,
            items=items,
            labelled=labelled,
            target_precision=state.target_precision,
        )
