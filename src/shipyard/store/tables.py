"""SQLAlchemy models of the metadata store.

The schema itself is created and upgraded by the Alembic migrations in ``migrations/``;
these classes only describe it to the ORM.  A test checks that the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the metadata store; use UTC")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_status", "project_id", "status", "id"),
        Index("ix_pipeline_runs_pipeline", "project_id", "pipeline", "id"),
        Index("ix_pipeline_runs_experiment", "project_id", "experiment", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="pipeline", server_default="pipeline")
    experiment: Mapped[str | None] = mapped_column(String(200), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id"), default=None, index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str | None] = mapped_column(String(64), default=None)
    code_dirty: Mapped[bool | None] = mapped_column(Boolean, default=None)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ExecutionRow(Base):
    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_fingerprint_status", "fingerprint", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    step: Mapped[str] = mapped_column(String(200))
    component: Mapped[str] = mapped_column(String(400))
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(20))
    cached_from_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id"), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)


class StepClaimRow(Base):
    """A runner executing a step: one claim per fingerprint, so identical runs wait.

    The holder's liveness is its run's: a claim of a finished run, or of a runner
    process that died on this host, may be taken over.
    """

    __tablename__ = "step_claims"
    __table_args__ = (UniqueConstraint("project_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("project_id", "type_name", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    type_name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(BigInteger)
    uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("execution_id", "direction", "port"),
        Index("ix_events_artifact_direction", "artifact_id", "direction", "execution_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id"), index=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    port: Mapped[str] = mapped_column(String(200))


class PropertyRow(Base):
    """Key/value properties of any record: ``owner`` is a kind, ``owner_id`` its id."""

    __tablename__ = "properties"
    __table_args__ = (UniqueConstraint("owner", "owner_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class DatasetVersionRow(Base):
    """One version of a dataset, identified by the content hash of its source."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("project_id", "name", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[int] = mapped_column(Integer)
    examples_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    statistics_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id"), default=None)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_runs.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunMetricRow(Base):
    """A metric logged by a step of a run, or by a tracked run (experiment tracking)."""

    __tablename__ = "run_metrics"
    __table_args__ = (
        Index("ix_run_metrics_history", "run_id", "key", "id"),
        # Only steps' metrics have an execution: a tracked run's points skip this index,
        # which migration 0010 makes partial (WHERE execution_id IS NOT NULL).  Saying so
        # here too (postgresql_where) would load SQLAlchemy's PostgreSQL dialect in every
        # process that imports the tables, a tenth of a second of every command.
        Index("ix_run_metrics_execution_id", "execution_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"))
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id"), default=None)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(Integer, default=None)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunParamRow(Base):
    """A parameter logged by a step of a run (experiment tracking)."""

    __tablename__ = "run_params"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id"), index=True)
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("executions.id"), default=None, index=True
    )
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    package_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_runs.id"), default=None)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id"), default=None
    )
    blessed: Mapped[bool] = mapped_column(Boolean)
    infra_validated: Mapped[bool] = mapped_column(Boolean)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasEventRow(Base):
    """One move of an alias: who moved it, when, from which version to which."""

    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[int | None] = mapped_column(Integer, default=None)
    to_version: Mapped[int | None] = mapped_column(Integer, default=None)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PredictionSegmentRow(Base):
    """One compacted Parquet file of the prediction log: the predictions of one model."""

    __tablename__ = "prediction_segments"
    __table_args__ = (
        Index("ix_prediction_segments_project_model_time", "project_id", "model", "max_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(BigInteger)
    min_time: Mapped[datetime]
    max_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PredictionIndexRow(Base):
    """Which segment holds a prediction id: answers "does this prediction exist?" fast."""

    __tablename__ = "prediction_index"

    prediction_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("prediction_segments.id"), primary_key=True)


class PredictionSourceRow(Base):
    """A spool file whose predictions are in segments; makes compaction idempotent."""

    __tablename__ = "prediction_sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(255))
    compacted_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackRow(Base):
    """The true label of a prediction; a later label replaces an earlier one."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("project_id", "prediction_id"),
        Index("ix_feedback_project_received", "project_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    prediction_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[Any] = mapped_column(JSON, nullable=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who gave it: "api" (POST /feedback) or how the review queue resolved the item.
    source: Mapped[str] = mapped_column(String(20), default="api", server_default="api")


class DeploymentRow(Base):
    """How a model is served while a candidate version is tried beside its primary.

    A row is one rollout, from ``deploy`` until it is promoted or rolled back; at most
    one per model is ``active`` (the model's row is locked while one is made).  Each
    change bumps ``revision``, so that an analysis acting on what it read cannot undo a
    change made meanwhile.  The lease names the analysis process acting on it.
    """

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_model_status", "model_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"))
    primary_version: Mapped[int] = mapped_column(Integer)
    candidate_version: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(20))
    percent: Mapped[float] = mapped_column(Float)
    sticky_key: Mapped[str | None] = mapped_column(String(200), default=None)
    live: Mapped[str] = mapped_column(String(20), default="primary")
    status: Mapped[str] = mapped_column(String(20))
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    next_analysis_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class DeploymentEventRow(Base):
    """One change of a deployment: who, when, what it was before and after, and why."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentArmCountRow(Base):
    """Requests and failures of one arm of a deployment, added up by every server."""

    __tablename__ = "deployment_arm_counts"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    arm: Mapped[str] = mapped_column(String(20), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)


class AutomationLevelRow(Base):
    """How much a model decides alone, as changed at run time (one row per model).

    ``revision`` grows with each change; the events below keep every change.
    """

    __tablename__ = "automation_levels"

    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    target_precision: Mapped[float | None] = mapped_column(Float, default=None)
    max_interval_width: Mapped[float | None] = mapped_column(Float, default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class AutomationEventRow(Base):
    """One change of a model's automation level: who, when, why, before and after."""

    __tablename__ = "automation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)


class ReviewItemRow(Base):
    """A prediction queued for a person to label.

    ``model`` is the served model's name, as in the prediction log.  A reviewer holds an
    item while ``lease_until`` is ahead; ``label`` and ``resolution`` are set when the
    labels given resolve it (the review policy decides when they do).
    """

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("project_id", "prediction_id"),
        Index("ix_review_items_queue", "project_id", "status", "created_at"),
        Index("ix_review_items_model_queue", "project_id", "model", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    prediction_id: Mapped[str] = mapped_column(String(128))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    suggestion: Mapped[Any] = mapped_column(JSON, nullable=False)
    probabilities: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    interval_low: Mapped[float | None] = mapped_column(Float, default=None)
    interval_high: Mapped[float | None] = mapped_column(Float, default=None)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    blind: Mapped[bool] = mapped_column(Boolean)
    labels_required: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    label: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class ReviewLabelRow(Base):
    """One reviewer's act on a review item: a label, a skip or an adjudication."""

    __tablename__ = "review_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    label: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    guideline_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuidelineRow(Base):
    """One version of a model's labelling guidelines (a new one when the text changes)."""

    __tablename__ = "guidelines"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitorReferenceRow(Base):
    """What a model version's windows are compared with: an artifact made once."""

    __tablename__ = "monitor_references"
    __table_args__ = (UniqueConstraint("project_id", "model", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitorWindowRow(Base):
    """One window of a version's predictions: its statistics (an artifact) and results.

    ``labelled`` counts the labels the result's realised performance rests on; a window
    is recomputed when more arrive.
    """

    __tablename__ = "monitor_windows"
    __table_args__ = (
        UniqueConstraint("project_id", "model", "version", "spec", "start"),
        Index("ix_monitor_windows_end", "project_id", "model", "end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    count: Mapped[int] = mapped_column(Integer)
    statistics: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    labelled: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRow(Base):
    """An alert: a rule crossed by a version's windows, from opening to resolution.

    ``message`` says why it opened, ``resolution`` why it resolved; ``value`` follows
    the metric while it stays open.

    ``delivered`` is the status last POSTed to the webhook; it differs from ``status``
    while a delivery is owed.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status", "project_id", "status"),
        Index("ix_alerts_rule", "project_id", "model", "version", "rule"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float, default=None)
    message: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    opened_window_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_windows.id"), default=None
    )
    last_window_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_windows.id"), default=None
    )
    delivered: Mapped[str | None] = mapped_column(String(20), default=None)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text, default=None)


class MonitorStateRow(Base):
    """Which monitor acts on a model until when (two watchers never act on one model),
    and how far the model's log has been cut into windows of size ``spec``: predictions
    before ``cursor`` are in stored windows, or in none that can still change."""

    __tablename__ = "monitor_state"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column()
    cursor: Mapped[datetime | None] = mapped_column(default=None)
    spec: Mapped[str | None] = mapped_column(String(20), default=None)
    passed_at: Mapped[datetime | None] = mapped_column(default=None)


class LoopRunRow(Base):
    """One retrain of a model, from its trigger to promotion, rollback or rejection.

    ``holdout`` lists the labelled predictions held back from its training, on which
    ``gate`` compared it with ``production_version``.
    """

    __tablename__ = "loop_runs"
    __table_args__ = (Index("ix_loop_runs_model", "project_id", "model", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30))
    trigger: Mapped[str] = mapped_column(Text)
    production_version: Mapped[int | None] = mapped_column(Integer, default=None)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    deployment_id: Mapped[int | None] = mapped_column(Integer, default=None)
    holdout: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    gate: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    approved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class LoopEventRow(Base):
    """One step of a retrain, with its reason; ``delivered`` once the webhook has it."""

    __tablename__ = "loop_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loop_run_id: Mapped[int] = mapped_column(ForeignKey("loop_runs.id"), index=True)
    step: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
