"""Project configuration: ``shipyard.yaml`` overridden by ``SHIPYARD_*`` variables.

One place holds every setting.  The file is validated by pydantic; a wrong field becomes a
``ConfigError`` that names the field and the reason.

>>> config = ProjectConfig(name="demo")
>>> config.pipeline.workers
2
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

# The fixed choices live in ``choices``, which the command line reads without pydantic;
# the settings and the modules that use them take them from here.
from shipyard.choices import Encoding as Encoding
from shipyard.choices import Impute as Impute
from shipyard.choices import Scaling as Scaling
from shipyard.choices import Task as Task

# Where the settings come from lives apart, so that reading them needs no pydantic.
from shipyard.config_source import CONFIG_FILE as CONFIG_FILE
from shipyard.config_source import ENV_OVERRIDES as ENV_OVERRIDES
from shipyard.config_source import STATE_DIR as STATE_DIR
from shipyard.config_source import StoreLocation, note_validated
from shipyard.errors import ConfigError, did_you_mean


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: How errors of ``with_changes`` name the section.
    label: ClassVar[str] = "settings"

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Self:
        """Validate ``data`` as this section; a ``ConfigError`` names the field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, cls.label)) from exc

    def with_changes(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` (None: keep) — for command-line options."""
        data = self.model_dump() | {key: v for key, v in changes.items() if v is not None}
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, self.label)) from exc


class StoreSettings(_Section):
    """Where metadata and artifacts live; relative paths are relative to the project."""

    database: str = Field(
        default=f"sqlite:///{STATE_DIR}/metadata.db",
        description="SQLAlchemy URL of the metadata database (sqlite or postgresql).",
    )
    artifacts: str = Field(
        default=f"{STATE_DIR}/artifacts",
        description="Folder or fsspec URL (s3://bucket/prefix) of the artifact store.",
    )


class PipelineSettings(_Section):
    """How the pipeline runner executes steps."""

    workers: int = Field(default=2, ge=1, le=256, description="Parallel step processes.")
    cache: bool = Field(default=True, description="Skip steps whose fingerprint is cached.")
    executor: Literal["local", "dask"] = Field(
        default="local",
        description="Where steps run: a pool of local processes, or a Dask cluster.",
    )
    scheduler: str | None = Field(
        default=None,
        description="Address of a running Dask scheduler (tcp://host:8786); without it, "
        "executor: dask starts a local cluster of `workers` processes for each run.",
    )

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> PipelineSettings:
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is the address of a Dask cluster: set executor: dask")
        return self


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

# The estimators a short name stands for, per task (``model.estimator``); any other is
# named by its dotted class path.  Kept with the settings that are checked against it.
ESTIMATORS: dict[str, dict[Task, str]] = {
    "hist-gradient-boosting": {
        "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
        "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    },
    "random-forest": {
        "regression": "sklearn.ensemble.RandomForestRegressor",
        "classification": "sklearn.ensemble.RandomForestClassifier",
    },
    "linear": {
        "regression": "sklearn.linear_model.Ridge",
        "classification": "sklearn.linear_model.LogisticRegression",
    },
    "lightgbm": {
        "regression": "lightgbm.LGBMRegressor",
        "classification": "lightgbm.LGBMClassifier",
    },
    "xgboost": {
        "regression": "xgboost.XGBRegressor",
        "classification": "xgboost.XGBClassifier",
    },
}
DEFAULT_ESTIMATOR = "hist-gradient-boosting"


def unknown_estimator(name: str) -> str | None:
    """What is wrong with ``name`` as an estimator's name, or None when it is a short
    name or a dotted class path."""
    if "." in name or name in ESTIMATORS:
        return None
    return (
        f"'{name}' is not a known estimator{did_you_mean(name, ESTIMATORS)}; known: "
        f"{', '.join(ESTIMATORS)}, or a dotted class path like sklearn.linear_model.Lasso"
    )


class SplitSettings(_Section):
    """How ExampleGen divides rows between training and evaluation."""

    eval_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = Field(default=42, description="Seed of the random split.")
    key: str | None = Field(
        default=None,
        description="Split by a hash of this column instead: a row keeps its split forever.",
    )


class DataSettings(_Section):
    """The table the standard pipeline learns from."""

    source: str = Field(description="CSV or Parquet file, or a folder of them.")
    target: str = Field(min_length=1, description="The column to predict.")
    task: Task
    features: list[str] | None = Field(
        default=None, description="Columns to use (default: every column but the target)."
    )
    drop: list[str] = Field(default_factory=list, description="Columns never used.")
    split: SplitSettings = Field(default_factory=SplitSettings)
    schema_file: str | None = Field(
        default=None,
        alias="schema",
        description="A pinned schema.yaml to validate against instead of an inferred one.",
    )
    partition_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Rows per partition: ExampleGen, StatisticsGen and Transform read a "
        "table a partition at a time (on the Dask cluster, with pipeline.executor: dask).",
    )
    include_feedback: bool = Field(
        default=False,
        description="Train also on labelled predictions (feedback, and review labels once "
        "resolved: single, agreed by two reviewers, or adjudicated; never disputed ones), "
        "recorded as a dataset version.",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TransformSettings(_Section):
    """Preprocessing the Transform step learns on the training split."""

    impute: Impute = "median"
    scaling: Scaling = "standard"
    encoding: Encoding = "onehot"
    max_categories: int = Field(default=50, ge=1)
    derive: str | None = Field(
        default=None, description="A 'module:function' adding derived columns to a frame."
    )


class ModelSettings(_Section):
    """The estimator the Trainer fits and the name it is registered under."""

    name: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Registered name (default: project)."
    )
    estimator: str | None = Field(
        default=None,
        description="hist-gradient-boosting (default), random-forest, linear, lightgbm, "
        "xgboost, or a dotted class with the scikit-learn API.",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    max_rows: int | None = Field(
        default=2_000_000,
        ge=2,
        description="The most rows training, tuning and evaluation read from a split: a "
        "larger split gives a uniform sample of this many (null: always every row).",
    )

    @field_validator("estimator")
    @classmethod
    def _known_estimator(cls, value: str | None) -> str | None:
        problem = None if value is None else unknown_estimator(value)
        if problem is not None:
            raise ValueError(problem)
        return value


#: What the Tuner may optimize, per task (the Evaluator's metrics of that name).
TUNING_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("rmse", "mae", "mape", "r2"),
    "classification": ("log_loss", "accuracy", "f1", "roc_auc"),
}
DISTRIBUTIONS = ("uniform", "log_uniform", "int", "log_int", "choice")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ParameterRange(_Section):
    """Where the Tuner searches one estimator parameter: exactly one distribution.

    ``uniform: [low, high]`` and ``log_uniform: [low, high]`` (floats), ``int: [low, high]``
    and ``log_int: [low, high]`` (integers, both ends included), ``choice: [a, b, ...]``.

    >>> ParameterRange.model_validate({"log_uniform": [0.01, 0.3]}).bounds
    (0.01, 0.3)
    """

    uniform: tuple[float, float] | None = None
    log_uniform: tuple[float, float] | None = None
    int_: tuple[int, int] | None = Field(default=None, alias="int")
    log_int: tuple[int, int] | None = None
    choice: list[str | int | float | bool | None] | None = Field(default=None, min_length=1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _one_distribution(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(
                "give a distribution as a mapping, e.g. {log_uniform: [0.01, 0.3]}; "
                "one of " + ", ".join(DISTRIBUTIONS)
            )
        unknown = [key for key in data if key not in DISTRIBUTIONS and key != "int_"]
        if unknown:
            raise ValueError(
                f"unknown distribution '{unknown[0]}'"
                + did_you_mean(unknown[0], DISTRIBUTIONS)
                + "; use one of "
                + ", ".join(DISTRIBUTIONS)
            )
        if len(data) != 1:
            raise ValueError("give exactly one distribution of " + ", ".join(DISTRIBUTIONS))
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ParameterRange:
        if self.choice is not None:
            return self
        low, high = self.bounds
        if low >= high:
            raise ValueError(f"{self.distribution} needs low < high, got [{low}, {high}]")
        if self.distribution.startswith("log_") and low <= 0:
            raise ValueError(f"{self.distribution} needs low > 0, got {low}")
        return self

    @property
    def distribution(self) -> str:
        for name in DISTRIBUTIONS:
            if getattr(self, "int_" if name == "int" else name) is not None:
                return name
        raise AssertionError("validated to hold one distribution")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a numeric range (not of ``choice``)."""
        found = self.uniform or self.log_uniform or self.int_ or self.log_int
        assert found is not None, "choice has no bounds"
        return found


class TunerSettings(_Section):
    """The Tuner step: a search over ``model.params`` by cross-validation on the training
    split, with Optuna (seeded TPE sampler, median pruning between folds).

    The best parameters found override ``model.params`` in the Trainer.
    """

    label: ClassVar[str] = "tuner settings"

    space: dict[str, ParameterRange] = Field(
        min_length=1, description="Estimator parameter -> distribution to search."
    )
    trials: int = Field(default=30, ge=1, le=100_000, description="Trials in the study.")
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="No trial starts after this long (10m, 1h, or seconds); default none.",
    )
    folds: int = Field(default=3, ge=2, le=20, description="Cross-validation folds.")
    metric: str | None = Field(
        default=None,
        description="What to optimize (default rmse for regression, log_loss for "
        "classification): one of the Evaluator's metrics.",
    )
    prune: bool = Field(default=True, description="Stop unpromising trials between folds.")
    seed: int = Field(default=0, description="Seed of the sampler and the folds.")

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if found is None:
            raise ValueError(f"'{value}' is not a duration (90s, 10m, 1h, or seconds)")
        return float(found.group(1)) * _SECONDS[found.group(2) or "s"]

    @field_validator("space")
    @classmethod
    def _named(cls, space: dict[str, ParameterRange]) -> dict[str, ParameterRange]:
        for name in space:
            if not name.isidentifier():
                raise ValueError(f"'{name}' is not a parameter name")
        return space


class Bound(_Section):
    """Allowed values of a metric: at least ``lower``, at most ``upper``."""

    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _one_side_at_least(self) -> Bound:
        if self.lower is None and self.upper is None:
            raise ValueError("give lower, upper or both")
        return self


class ChangeBound(_Section):
    """How much worse than production a metric may be, relative or absolute."""

    relative: float | None = Field(default=None, ge=0)
    absolute: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> ChangeBound:
        if (self.relative is None) == (self.absolute is None):
            raise ValueError("give exactly one of relative or absolute")
        return self


class EvaluationSettings(_Section):
    """The gate a new model must pass to be blessed."""

    thresholds: dict[str, Bound] = Field(
        default_factory=dict, description="Value bounds, per metric (overall)."
    )
    change_thresholds: dict[str, ChangeBound] = Field(
        default_factory=dict,
        description="Largest allowed worsening against the production model, per metric.",
    )
    slices: list[str] = Field(
        default_factory=list, description="Columns whose values each get their own metrics."
    )
    min_slice_size: int = Field(default=30, ge=1)
    gate_slices: bool = Field(
        default=False, description="Hold every slice, not only the whole, to the thresholds."
    )


class ValidationSettings(_Section):
    """What ExampleValidator checks besides the schema."""

    drift_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Per-column drift floor (Jensen-Shannon distance; small samples are held to "
            "their sampling noise instead when it is larger); 'default' for all."
        ),
    )
    drift_severity: Literal["warning", "error"] = "warning"
    range_severity: Literal["warning", "error"] = "warning"
    outside_tolerance: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="The share of values outside the schema's range or domain that a "
        "sample is expected to show; more is an anomaly.",
    )
    size_change_bound: float = Field(default=2.0, gt=1)


class InfraSettings(_Section):
    """Budgets the InfraValidator holds the packaged model to."""

    max_load_seconds: float = Field(default=30.0, gt=0)
    max_p99_ms: float = Field(default=500.0, gt=0)
    requests: int = Field(default=200, ge=10, le=100_000)


class ServeSettings(_Section):
    """How ``shipyard serve`` answers: where it listens, which alias, how often it looks.

    >>> ServeSettings().with_changes(port=9000).port
    9000
    """

    label: ClassVar[str] = "serve settings"

    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(default=1, ge=1, le=256, description="Server processes.")
    alias: str = Field(
        default="production", pattern=NAME_PATTERN, description="The alias whose versions serve."
    )
    reload_seconds: float = Field(
        default=2.0, gt=0, description="How often to look for moved aliases."
    )
    compact_seconds: float = Field(
        default=30.0, gt=0, description="How often the prediction log is compacted."
    )
    spool_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a spool file takes answers before it is closed for the "
        "compactor: the longest an answer waits to reach the shared log.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="API token: routes that change state (deploy, promote, rollback, "
        "feedback, admin) then require 'Authorization: Bearer <token>'.",
    )
    protect_predictions: bool = Field(
        default=False, description="Require the token for predictions as well."
    )
    ui: bool = Field(default=False, description="Also serve the web dashboard at /ui.")

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("an API token must be at least 16 characters long")
        return token

    def environment(self) -> dict[str, str]:
        """These settings as the ``SHIPYARD_SERVE_*`` variables that override the file."""
        values = {
            variable: getattr(self, path[1])
            for variable, path in ENV_OVERRIDES.items()
            if path[0] == "serve"
        }
        return {
            variable: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            for variable, value in values.items()
            if value is not None
        }


class RegistrySettings(_Section):
    """How many loaded model versions a process keeps (those being served always stay)."""

    cache_versions: int = Field(default=4, ge=1, description="Loaded versions kept, at most.")
    cache_bytes: int = Field(
        default=2 * 1024**3, ge=0, description="Their size on disk, at most (bytes)."
    )


class AnalysisChecks(_Section):
    """Bounds the automatic canary analysis holds a candidate to, at each interval.

    A check judges only when it has enough data (``min_requests`` answers per arm,
    ``min_labels`` labelled answers per arm); until then it neither passes nor fails.
    """

    min_requests: int = Field(default=50, ge=1, description="Answers per arm to judge on.")
    max_error_rate: float = Field(
        default=0.01, ge=0, le=1, description="The candidate's share of failed requests."
    )
    max_p99_ratio: float = Field(
        default=1.5, gt=0, description="The candidate's p99 latency over the primary's."
    )
    p99_slack_ms: float = Field(
        default=5.0,
        ge=0,
        description="The ratio fails only when the candidate is also this much slower "
        "(ms): at millisecond latencies, scheduling noise alone doubles a p99.",
    )
    max_p99_ms: float | None = Field(
        default=None, gt=0, description="The candidate's p99 latency, in milliseconds."
    )
    min_agreement: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Classifiers: the share of requests both arms give the same class.",
    )
    max_relative_difference: float = Field(
        default=0.25,
        ge=0,
        description="Regressors: mean |candidate - primary| / mean |primary|.",
    )
    max_output_drift: float = Field(
        default=0.2,
        ge=0,
        description="Jensen-Shannon distance between the arms' outputs (0 same, 1 apart), "
        "beyond what sampling alone gives on that many answers.",
    )
    min_labels: int = Field(
        default=30, ge=1, description="Labelled answers per arm before feedback judges."
    )
    max_metric_worsening: float = Field(
        default=0.05,
        ge=0,
        description="How much worse than the primary the candidate's feedback metric may be "
        "(relative: accuracy, or RMSE).",
    )
    feedback_confidence: float = Field(
        default=0.99,
        gt=0.5,
        lt=1,
        description="How sure the analysis must be that the candidate's loss is higher "
        "(one-sided test on the labelled rows) before feedback fails it: on a few dozen "
        "labels, equally good models differ by chance.",
    )


class DeploymentSettings(_Section):
    """Defaults of ``shipyard deploy``'s canary analysis, and the checks it runs."""

    steps: list[float] = Field(
        default_factory=lambda: [5.0, 25.0, 50.0, 100.0],
        min_length=1,
        description="Canary percents, in order; passing the last one promotes.",
    )
    interval_seconds: float = Field(default=60.0, gt=0, description="Time between checks.")
    max_failures: int = Field(default=3, ge=1, description="Failed checks that roll back.")
    checks: AnalysisChecks = Field(default_factory=AnalysisChecks)


AutomationLevel = Literal["full", "partial", "assist", "shadow"]


class AutomationSettings(_Section):
    """How much the model decides alone; ``shipyard automation`` changes it at run time.

    ``full``: every answer is a decision.  ``partial``: confident answers are decisions,
    the others are suggestions queued for review.  ``assist``: every answer is a
    suggestion and is queued.  ``shadow``: every item is queued, the model's answer is
    withheld from the caller and the reviewer, and logged to measure agreement.
    """

    level: AutomationLevel = "full"
    target_precision: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Classifiers at 'partial': the precision auto-decided answers must "
        "reach on the eval split; the confidence threshold is chosen to give it.",
    )
    max_interval_width: float | None = Field(
        default=None,
        gt=0,
        description="Regressors at 'partial': answers whose conformal interval is wider "
        "go to review (default: none is auto-decided).",
    )
    coverage: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description="Regressors: the share of true values the conformal intervals hold.",
    )


class ReviewSettings(_Section):
    """The review queue: leases, double labelling, agreement, guidelines."""

    lease_seconds: float = Field(
        default=600.0, gt=0, description="How long a claimed item stays a reviewer's."
    )
    expire_hours: float = Field(
        default=168.0, gt=0, description="Items still unresolved after this many hours expire."
    )
    double_label_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="The share of queued items labelled by two reviewers (besides every "
        "item whose first label contradicts a confident model).",
    )
    label_tolerance: float = Field(
        default=0.05,
        ge=0,
        description="Regressors: two labels agree when they differ by at most this share "
        "of their mean magnitude.",
    )
    guidelines: str = Field(
        default="guidelines",
        description="The folder of labelling guidelines, one Markdown file per model "
        "(MODEL.md); a changed file is a new guideline version.",
    )


AlertSeverity = Literal["info", "warning", "critical"]

#: The metrics an alert rule can watch; ``drift.FEATURE``, ``performance.METRIC`` and
#: ``estimated.METRIC`` name a feature or a metric after the dot.
WINDOW_METRICS = (
    "drifted_features",
    "drift_share",
    "output_drift",
    "output_drifted",
    "skew.missing_columns",
    "skew.type_mismatches",
    "skew.unseen_share",
    "skew.missing_share",
    "skew.out_of_range_share",
    "latency_p50_ms",
    "latency_p99_ms",
    "count",
)
PREFIXED_METRICS = ("drift.", "performance.", "estimated.")


class AlertRule(_Section):
    """When a window's metric crosses a bound for ``windows`` windows in a row, an alert
    opens; it resolves at the first window that no longer crosses it.

    ``above``/``below`` are absolute bounds.  ``drop`` is a relative worsening against
    the version's evaluation metric (``performance.`` and ``estimated.`` metrics only):
    0.1 fires when accuracy falls below 90% of its evaluation value, or RMSE rises above
    110% of it.  A realised metric crosses only when its whole confidence interval does,
    so a window with few labels cannot raise an alert by itself.
    """

    name: str = Field(min_length=1, max_length=100)
    metric: str = Field(min_length=1)
    above: float | None = None
    below: float | None = None
    drop: float | None = Field(default=None, gt=0, lt=1)
    windows: int = Field(default=1, ge=1, le=1000, description="Windows in a row.")
    severity: AlertSeverity = "warning"

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        bounds = [name for name in ("above", "below", "drop") if getattr(self, name) is not None]
        if len(bounds) != 1:
            raise ValueError(
                f"rule '{self.name}' needs exactly one of above, below or drop; got "
                + (", ".join(bounds) or "none")
            )
        prefixed = self.metric.startswith(PREFIXED_METRICS)
        if prefixed and not self.metric.partition(".")[2]:
            raise ValueError(f"rule '{self.name}': '{self.metric}' names no feature or metric")
        if not prefixed and self.metric not in WINDOW_METRICS:
            known = [*WINDOW_METRICS, *(f"{prefix}NAME" for prefix in PREFIXED_METRICS)]
            raise ValueError(
                f"rule '{self.name}' watches unknown metric '{self.metric}'; use one of "
                + ", ".join(known)
                + did_you_mean(self.metric, WINDOW_METRICS)
            )
        if self.drop is not None and not self.metric.startswith(("performance.", "estimated.")):
            raise ValueError(
                f"rule '{self.name}': drop compares with the evaluation metric, so it applies "
                "to performance.METRIC and estimated.METRIC only"
            )
        return self


class WebhookSettings(_Section):
    """Where alerts are POSTed as JSON when they open or resolve."""

    url: str = Field(pattern=r"^https?://", description="An http(s) URL.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    retries: int = Field(default=2, ge=0, le=10, description="Retries after a failure.")


class UISettings(_Section):
    """``shipyard ui``: where the web dashboard listens (its token is ``serve.token``)."""

    label: ClassVar[str] = "ui settings"

    host: str = Field(default="127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port to listen on.")


class MonitoringSettings(_Section):
    """``shipyard monitor``: windows over the prediction log and the rules that alert."""

    window: str = Field(
        default="1h",
        description="A duration (30m, 1h, 1d) for windows by time, or a number of "
        "predictions (5000) for windows by count.",
    )
    lateness_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A time window is computed this long after it closes, so that other "
        "servers' predictions have reached the log.",
    )
    min_count: int = Field(
        default=100,
        ge=1,
        description="Fewer values than this in a window give 'not enough data', not a score.",
    )
    drift_threshold: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="The Jensen-Shannon distance that counts as drift when the window is "
        "large enough for sampling noise to stay below it.",
    )
    drift_confidence: float = Field(
        default=0.999,
        gt=0.5,
        lt=1,
        description="Sampling noise is the distance two samples of one distribution stay "
        "under with this probability; small windows need more than the threshold.",
    )
    label_horizon: str = Field(
        default="7d",
        description="Windows this recent have their realised performance recomputed "
        "when labels arrive.",
    )
    interval_seconds: float = Field(
        default=60.0, gt=0, description="Time between passes of `shipyard monitor --watch`."
    )
    rules: list[AlertRule] | None = Field(
        default=None,
        description="Alert rules; by default: any drifted feature, drifted outputs, and "
        "realised or estimated performance 10% worse than at evaluation.",
    )
    webhook: WebhookSettings | None = None

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> str:
        text = str(value).strip()
        if text.isdigit():
            if int(text) < 1:
                raise ValueError("a window by count needs at least 1 prediction")
            return text
        if not re.fullmatch(r"\d+(\.\d+)?\s*[smhdw]", text):
            raise ValueError(
                f"'{value}' is neither a duration (30m, 1h, 1d) nor a number of predictions"
            )
        return text

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[AlertRule] | None) -> list[AlertRule] | None:
        names = [rule.name for rule in rules or []]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"alert rules {', '.join(repeated)} are named more than once")
        return rules


class LoopTriggers(_Section):
    """What starts a retrain (any one of them)."""

    alerts: list[str] | Literal["any"] | None = Field(
        default="any",
        description="Open alerts of the production version that start one: 'any', or "
        "rule names; null: none.",
    )
    new_labels: int | None = Field(
        default=None, ge=1, description="Labels received since the last training."
    )
    new_data: bool = Field(
        default=True, description="The source's content differs from production's data."
    )
    schedule: str | None = Field(
        default=None, description="Retrain when production is older than this (7d)."
    )


class LoopSettings(_Section):
    """The closed loop: when a model retrains itself, on what, and how it rolls out.

    Each ``shipyard monitor`` pass advances it: a trigger starts a retrain on the source
    and the labelled predictions of ``label_horizon``; a share of those labels is held
    back, and the retrained version must beat production on them by ``margin`` (the
    gate on recent truth); it then goes out as an analysed canary (``deployments``),
    promoted after the last step or rolled back.
    """

    enabled: bool = Field(
        default=True, description="Retrain without a person (false: retrain by hand only)."
    )
    triggers: LoopTriggers = Field(default_factory=LoopTriggers)
    min_interval: str = Field(
        default="1d", description="At most one retrain in this period (30m, 1d)."
    )
    label_horizon: str = Field(
        default="30d", description="Labelled predictions this recent join the training."
    )
    holdout_share: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="The share of fresh labelled predictions held back from training to "
        "judge the retrained version on.",
    )
    min_fresh_labels: int = Field(
        default=50,
        ge=1,
        description="Held-back labels the gate needs before a retrained version may go on.",
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="How much better than production on the held-back labels, as a share "
        "of production's error (0.02: 2% fewer errors, or 2% lower RMSE).",
    )
    confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="How sure the gate must be that the retrained version is better than "
        "production on the held-back labels (a one-sided paired test).",
    )
    approval: Literal["auto", "manual"] = Field(
        default="auto", description="manual: wait for `shipyard approve MODEL` before the canary."
    )

    @field_validator("min_interval", "label_horizon")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhdw]\s*", value):
            raise ValueError(f"'{value}' is not a duration (30m, 12h, 7d)")
        return value


class ProjectConfig(_Section):
    """The whole of ``shipyard.yaml``."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    store: StoreSettings = Field(default_factory=StoreSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    data: DataSettings | None = None
    transform: TransformSettings = Field(default_factory=TransformSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    tuner: TunerSettings | None = None
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    infra: InfraSettings = Field(default_factory=InfraSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    ui: UISettings = Field(default_factory=UISettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    deployments: DeploymentSettings = Field(default_factory=DeploymentSettings)
    automation: AutomationSettings = Field(default_factory=AutomationSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    loop: LoopSettings = Field(default_factory=LoopSettings)

    @model_validator(mode="after")
    def _tuned_metric(self) -> ProjectConfig:
        if self.tuner is None or self.tuner.metric is None or self.data is None:
            return self
        known = TUNING_METRICS[self.data.task]
        if self.tuner.metric not in known:
            raise ValueError(
                f"tuner.metric '{self.tuner.metric}' is not a {self.data.task} metric"
                + did_you_mean(self.tuner.metric, known)
                + "; use one of "
                + ", ".join(known)
            )
        return self

    @property
    def model_name(self) -> str:
        return self.model.name or self.name

    def to_yaml(self) -> str:
        """Render the configuration as the YAML a person would write."""
        data = self.model_dump(mode="json", exclude_none=True, by_alias=True)
        return yaml.safe_dump(data, sort_keys=False)


_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")

_SECTION_NOTES = {
    "name": "shipyard project settings; every field is checked when the project opens.",
    "store": "Where metadata and artifacts live (SHIPYARD_DB_URL, SHIPYARD_ARTIFACTS_URL).",
    "pipeline": "Parallel step processes (SHIPYARD_WORKERS), caching, and where steps run\n"
    "# (executor: local or dask; scheduler: tcp://host:8786 for a running Dask cluster).",
    "data": "The table to learn from: source file or folder, target column, task, split.\n"
    "# Add 'features: [..]' to choose columns, 'drop: [..]' to leave some out, and\n"
    "# 'schema: schema.yaml' to validate against a schema you pinned.",
    "transform": "Preprocessing learned on the training split and applied everywhere.",
    "model": "Registered model name and estimator: hist-gradient-boosting, random-forest,\n"
    "# linear, lightgbm, xgboost (pip install 'shipyard[lightgbm]' or [xgboost]), or a dotted\n"
    "# scikit-learn-style class; params go to its constructor.",
    "tuner": "Search model.params by cross-validation before training (trials, space).",
    "validation": "Drift thresholds (per column, or 'default') and severities.",
    "evaluation": "The gate: metric bounds, allowed worsening against production, slices.",
    "infra": "Budgets for loading and serving the packaged model in a fresh process.",
    "serve": "shipyard serve: address, workers, alias served (SHIPYARD_SERVE_* variables).",
    "ui": "shipyard ui: where the web dashboard listens (SHIPYARD_UI_* variables).",
    "registry": "Loaded model versions kept in memory (served ones are never dropped).",
    "deployments": "Canary analysis: steps, interval, failures that roll back, and checks.",
}


def safe_name(text: str) -> str:
    """``text`` reduced to the characters a project or model name may hold."""
    return _NAME_CHARACTERS.sub("-", text).strip("-.")


def render_config(config: ProjectConfig) -> str:
    """``shipyard.yaml`` as a person should read it: one commented section at a time."""
    data = config.model_dump(mode="json", exclude_none=True, by_alias=True)
    parts = []
    for key, value in data.items():
        note = _SECTION_NOTES.get(key)
        text = yaml.safe_dump({key: value}, sort_keys=False)
        parts.append((f"# {note}\n" if note else "") + text)
    return "\n".join(parts)


def _field_names(loc: tuple[int | str, ...]) -> list[str]:
    """The settings a section at ``loc`` of ``shipyard.yaml`` takes (empty when unknown)."""
    model: type[BaseModel] = ProjectConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        section = None if field is None else field.annotation
        members = typing.get_args(section) or (section,)
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(models) != 1:
            return []
        model = models[0]
    return [field.alias or name for name, field in model.model_fields.items()]


def _format_validation_error(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        hint = ""
        if error["type"] == "literal_error":
            hint = did_you_mean(error["input"], re.findall(r"'([^']*)'", error["ctx"]["expected"]))
        elif error["type"] == "extra_forbidden":
            known = _field_names(error["loc"][:-1])
            if known:
                hint = did_you_mean(error["loc"][-1], known) + "; known: " + ", ".join(known)
        problems.append(f"field '{where}': {error['msg']}{hint}")
    return f"{source} is invalid: " + "; ".join(problems)


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for variable, path in ENV_OVERRIDES.items():
        if variable in environ and environ[variable] != "":
            section = data.setdefault(path[0], {})
            if not isinstance(section, dict):
                raise ConfigError(f"shipyard.yaml: '{path[0]}' must be a mapping")
            section[path[1]] = environ[variable]
    return data


def parse_config(
    text: str, *, source: str = CONFIG_FILE, environ: Mapping[str, str] | None = None
) -> ProjectConfig:
    """Parse YAML text into a validated ``ProjectConfig``, applying env overrides."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of settings, not {type(data).__name__}")
    data = _apply_env(data, os.environ if environ is None else environ)
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from exc


def load_config(root: Path, *, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """Read ``shipyard.yaml`` from the project folder ``root``; noting that it validated
    lets the commands that only read skip validating it again (``config_source``)."""
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    environ = os.environ if environ is None else environ
    config = parse_config(text, source=str(path), environ=environ)
    note_validated(
        root,
        text,
        environ,
        StoreLocation(config.name, config.store.database, config.store.artifacts),
    )
    return config
