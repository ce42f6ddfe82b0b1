"""Plain, immutable views of stored records, returned by the store's queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from shipyard.choices import Strategy

if TYPE_CHECKING:
    # For the annotation only: the settings' pydantic models would otherwise slow the
    # start of every command, which imports these records.
    from shipyard.config import AutomationLevel

RunStatus = Literal["running", "succeeded", "failed", "crashed"]
RunKind = Literal["pipeline", "tracked", "trial"]
"""What made a run: the pipeline runner, ``shipyard.start_run``, or a Tuner's trial."""
ExecutionStatus = Literal["pending", "running", "succeeded", "cached", "failed", "skipped"]


@dataclass(frozen=True)
class RunRecord:
    id: int
    project: str
    pipeline: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    params: dict[str, Any]
    code_version: str | None
    code_dirty: bool | None
    environment: dict[str, Any]
    host: str
    pid: int
    error: str | None
    kind: RunKind = "pipeline"
    experiment: str | None = None
    name: str | None = None
    parent_id: int | None = None

    @property
    def label(self) -> str:
        """What to call the run: its name, else its pipeline's, else its experiment's."""
        return self.name or self.pipeline or self.experiment or f"run {self.id}"

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, or ``None`` while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    type_name: str
    digest: str
    kind: str
    size: int
    uri: str
    created_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"artifact:{self.id}"


@dataclass(frozen=True)
class ExecutionRecord:
    id: int
    run_id: int
    step: str
    component: str
    fingerprint: str | None
    status: str
    cached_from_id: int | None
    params: dict[str, Any]
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None
    inputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class FinishedStep:
    """A step that already ran, recorded whole by ``MetadataStore.record_runs``.

    ``inputs`` and ``outputs`` name stored artifacts by id, by port; ``logged_params``
    and ``logged_metrics`` (key, value, step) are what the step logged for its run.
    """

    step: str
    component: str
    status: ExecutionStatus
    started_at: datetime
    finished_at: datetime
    fingerprint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    logged_params: dict[str, Any] = field(default_factory=dict)
    logged_metrics: tuple[tuple[str, float, int | None], ...] = ()


@dataclass(frozen=True)
class FinishedRun:
    """A run that already ended, with its steps (none for a trial or a tracked run):
    runs imported in bulk, or a Tuner's trials recorded under their pipeline run.

    ``logged_params`` and ``logged_metrics`` (key, value, step) are what the run itself
    logged, outside any step.
    """

    pipeline: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    host: str
    steps: tuple[FinishedStep, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    code_dirty: bool | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    kind: RunKind = "pipeline"
    experiment: str | None = None
    name: str | None = None
    parent_id: int | None = None
    logged_params: dict[str, Any] = field(default_factory=dict)
    logged_metrics: tuple[tuple[str, float, int | None], ...] = ()


@dataclass(frozen=True)
class StoredOutput:
    """What a finished step hands the store for one output port."""

    type_name: str
    digest: str
    kind: str
    size: int
    uri: str
    properties: dict[str, Any] = field(default_factory=dict)


DATASETS_PROPERTY = "dataset_versions"
"""The artifact property listing the ids of the dataset versions an artifact holds."""


@dataclass(frozen=True)
class SegmentRecord:
    """A registered segment and where its Parquet file is."""

    id: int
    model: str
    rows: int
    min_time: datetime
    max_time: datetime
    artifact_id: int
    digest: str
    created_at: datetime


@dataclass(frozen=True)
class DatasetVersionRecord:
    """A version of a dataset: its source's content hash and what was ingested."""

    id: int
    name: str
    digest: str
    source: str
    rows: int
    columns: int
    examples_id: int
    statistics_id: int | None
    run_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class RunValues:
    """What a run logged: its parameters, each metric's last value, and its tags."""

    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, Any]


@dataclass
class MetricPoints:
    """Metric points a tracked run logged, as columns: key, value, step, Unix time."""

    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    steps: list[int | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class MetricRecord:
    key: str
    value: float
    step: int | None
    execution_id: int | None


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version of a model and everything needed to serve and audit it."""

    id: int
    model: str
    version: int
    package: ArtifactRecord
    run_id: int | None
    dataset_version_id: int | None
    blessed: bool
    infra_validated: bool
    metrics: dict[str, Any]
    reasons: dict[str, Any]
    code_version: str | None
    created_at: datetime
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"


@dataclass(frozen=True)
class ModelRecord:
    name: str
    created_at: datetime
    latest_version: int | None
    aliases: dict[str, int]


@dataclass(frozen=True)
class AliasEventRecord:
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    created_at: datetime


Arm = Literal["primary", "candidate"]
DeploymentStatus = Literal["active", "promoted", "rolled_back"]


@dataclass(frozen=True)
class DeploymentRecord:
    """One rollout of a candidate version beside a model's primary (production) version.

    ``percent`` is the share of requests the candidate answers (canary) or copies
    (shadow); ``live`` is the arm a blue-green deployment sends every request to.
    ``analysis`` holds an automatic canary analysis's plan and progress, if any.
    """

    id: int
    model: str
    primary_version: int
    candidate_version: int
    strategy: Strategy
    percent: float
    sticky_key: str | None
    live: Arm
    status: DeploymentStatus
    analysis: dict[str, Any] | None
    next_analysis_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    revision: int
    created_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def state(self) -> dict[str, Any]:
        """What serves: the fields a history entry shows before and after a change."""
        return {
            "primary": self.primary_version,
            "candidate": self.candidate_version,
            "strategy": self.strategy,
            "percent": self.percent,
            "sticky_key": self.sticky_key,
            "live": self.live,
            "status": self.status,
        }

    def describe(self) -> str:
        """One line: ``canary v4 at 10% beside v3`` and the like."""
        candidate = f"v{self.candidate_version}"
        primary = f"v{self.primary_version}"
        if self.strategy == "blue-green":
            live = candidate if self.live == "candidate" else primary
            return f"blue-green {primary}/{candidate}, {live} live"
        share = f"{self.percent:g}%"
        if self.strategy == "shadow":
            return f"shadow {candidate} on {share} of {primary}'s requests"
        return f"canary {candidate} at {share} beside {primary}"


@dataclass(frozen=True)
class DeploymentEventRecord:
    """One change of a deployment: who, when, the state before and after, and why."""

    id: int
    deployment_id: int
    model: str
    action: str
    actor: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ArmCounts:
    """How many requests one arm of a deployment answered, and how many failed."""

    arm: str
    requests: int
    errors: int


ReviewStatus = Literal["open", "disputed", "resolved", "skipped", "expired"]
ReviewAction = Literal["label", "skip", "adjudicate"]


@dataclass(frozen=True)
class NewReviewItem:
    """A prediction to queue for review, as the server saw it.

    ``suggestion`` is the model's answer, kept even when ``blind`` hides it from the
    reviewer; ``interval`` is a regressor's conformal interval; ``reasons`` say why the
    item was queued.
    """

    model: str
    version: int
    prediction_id: str
    inputs: dict[str, Any]
    suggestion: Any
    probabilities: Any
    confidence: float | None
    interval: tuple[float, float] | None
    reasons: list[str]
    blind: bool
    labels_required: int


@dataclass(frozen=True)
class ReviewLabelRecord:
    """One reviewer's act on an item: a label, a skip or an adjudication."""

    id: int
    item_id: int
    reviewer: str
    action: ReviewAction
    label: Any
    guideline_version: int | None
    created_at: datetime


@dataclass(frozen=True)
class ReviewItemRecord:
    """A queued prediction, who holds it, how it was resolved, and every act on it."""

    id: int
    model: str
    version: int
    prediction_id: str
    inputs: dict[str, Any]
    suggestion: Any
    probabilities: Any
    confidence: float | None
    interval: tuple[float, float] | None
    reasons: list[str]
    blind: bool
    labels_required: int
    status: ReviewStatus
    label: Any
    resolution: str | None
    claimed_by: str | None
    lease_until: datetime | None
    created_at: datetime
    resolved_at: datetime | None
    labels: list[ReviewLabelRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Resolution:
    """What the review policy makes of an item after an act on it.

    ``label`` and ``resolution`` (``single``, ``agreed`` or ``adjudicated``) are set when
    ``status`` is ``resolved``.
    """

    status: ReviewStatus
    labels_required: int
    label: Any = None
    resolution: str | None = None


@dataclass(frozen=True)
class QueueDepth:
    """How much of one model's queue waits: open and disputed items, the oldest open."""

    model: str
    open: int
    disputed: int
    oldest_open: datetime | None


@dataclass(frozen=True)
class AutomationRecord:
    """A model's automation level as set at run time, and who set it last."""

    model: str
    level: AutomationLevel
    target_precision: float | None
    max_interval_width: float | None
    revision: int
    updated_at: datetime
    updated_by: str

    def state(self) -> dict[str, Any]:
        """The settings a history entry shows before and after a change."""
        return {
            "level": self.level,
            "target_precision": self.target_precision,
            "max_interval_width": self.max_interval_width,
        }


@dataclass(frozen=True)
class AutomationEventRecord:
    """One change of a model's automation level."""

    id: int
    model: str
    at: datetime
    actor: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass(frozen=True)
class GuidelineRecord:
    """One version of a model's labelling guidelines; ``digest`` is its text's sha256."""

    model: str
    version: int
    text: str
    digest: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class NewWindow:
    """A window of a model version's predictions, computed and ready to store."""

    model: str
    version: int
    spec: str
    start: datetime
    end: datetime
    count: int
    statistics: str
    """Digest of the artifact holding the window's statistics."""
    result: dict[str, Any]
    labelled: int


@dataclass(frozen=True)
class MonitorWindowRecord(NewWindow):
    """A stored window."""

    id: int
    created_at: datetime
    updated_at: datetime


AlertStatus = Literal["open", "resolved"]


@dataclass(frozen=True)
class AlertRecord:
    """An alert: which rule a version's windows crossed, from opening to resolution."""

    id: int
    model: str
    version: int
    rule: str
    metric: str
    severity: str
    status: AlertStatus
    value: float | None
    message: str
    resolution: str | None
    opened_at: datetime
    resolved_at: datetime | None
    opened_window_id: int | None
    last_window_id: int | None
    delivered: str | None
    delivery_attempts: int
    delivery_error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form, as the webhook and ``shipyard alerts --format json`` give it."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "rule": self.rule,
            "metric": self.metric,
            "severity": self.severity,
            "status": self.status,
            "value": self.value,
            "message": self.message,
            "resolution": self.resolution,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "opened_window_id": self.opened_window_id,
            "last_window_id": self.last_window_id,
        }


LoopStatus = Literal[
    "triggered",
    "trained",
    "gated",
    "awaiting_approval",
    "canary",
    "promoted",
    "rolled_back",
    "rejected",
    "failed",
]
LOOP_FINISHED: tuple[LoopStatus, ...] = ("promoted", "rolled_back", "rejected", "failed")


@dataclass(frozen=True)
class LoopRunRecord:
    """One retrain of a model: why it started, where it is, what it produced."""

    id: int
    model: str
    status: LoopStatus
    trigger: str
    production_version: int | None
    version: int | None
    run_id: int | None
    deployment_id: int | None
    holdout: list[str] | None
    gate: dict[str, Any] | None
    approved_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in LOOP_FINISHED


@dataclass(frozen=True)
class LoopEventRecord:
    """One step of a retrain, and why it was taken."""

    id: int
    loop_run_id: int
    model: str
    step: str
    reason: str
    details: dict[str, Any]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "loop_run": self.loop_run_id,
            "model": self.model,
            "step": self.step,
            "reason": self.reason,
            "details": self.details,
            "at": self.at.isoformat(),
        }
