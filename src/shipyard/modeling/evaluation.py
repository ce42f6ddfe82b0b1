"""Evaluating a model package on a split, and deciding whether it is blessed.

A candidate is blessed when every value threshold holds (overall, and per slice when
``gate_slices`` is set) and, when a production model exists, no metric is worse than
production's — measured on the same rows — beyond its change threshold.  Every check is
kept, passed or not, so the blessing explains itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.config import Bound, ChangeBound, EvaluationSettings
from shipyard.errors import DataError

if TYPE_CHECKING:
    # The metrics are scikit-learn's: imported by ``evaluate`` and the change checks, so
    # that reading an evaluation back (a cached run's summary) does not load it.
    import pandas as pd

    from shipyard.modeling.package import ModelPackage

__all__ = ["Blessing", "Check", "Evaluation", "SliceMetrics", "bless", "evaluate"]


@dataclass(frozen=True)
class SliceMetrics:
    column: str
    value: str
    rows: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Evaluation:
    rows: int
    overall: dict[str, float]
    slices: list[SliceMetrics] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(
            rows=data["rows"],
            overall=data["overall"],
            slices=[SliceMetrics(**entry) for entry in data["slices"]],
        )

    def slice(self, column: str, value: str) -> SliceMetrics | None:
        for entry in self.slices:
            if entry.column == column and entry.value == value:
                return entry
        return None


def evaluate(
    package: ModelPackage, frame: pd.DataFrame, *, slices: list[str], min_slice_size: int
) -> Evaluation:
    """Metrics of ``package`` on ``frame`` (which holds the target), overall and per slice."""
    from shipyard.modeling.metrics import task_metrics

    target = package.manifest.target
    if target not in frame.columns:
        raise DataError(f"the evaluation data has no target column '{target}'")
    labelled = frame.loc[frame[target].notna()].reset_index(drop=True)
    if len(labelled) == 0:
        raise DataError(f"the evaluation data has no rows with a value for '{target}'")
    # One batch: the estimator answers it sooner than the compiled predictor is made.
    predictions = package.predict_frame(labelled, compiled=False)
    truth = labelled[target].to_numpy()

    def measure(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, float]:
        probabilities = None
        if predictions.probabilities is not None:
            probabilities = predictions.probabilities[mask]
        values = np.asarray(predictions.values, dtype=object)[mask]
        return task_metrics(package.task, truth[mask], values, probabilities, package.classes)

    everything = np.ones(len(labelled), dtype=bool)
    result = Evaluation(rows=len(labelled), overall=measure(everything))
    for column in slices:
        if column not in labelled.columns:
            raise DataError(f"slice column '{column}' is not in the evaluation data")
        keys = labelled[column].astype("string").fillna("<missing>")
        for value, count in keys.value_counts().items():
            if count < min_slice_size:
                continue
            mask = (keys == value).to_numpy(dtype=bool)
            result.slices.append(
                SliceMetrics(
                    column=column, value=str(value), rows=int(count), metrics=measure(mask)
                )
            )
    return result


@dataclass(frozen=True)
class Check:
    """One test of the gate: which metric, which slice, the bound and the value."""

    metric: str
    slice: str
    kind: str  # "bound" or "change"
    bound: str
    value: float | None
    passed: bool
    baseline: float | None = None

    @property
    def message(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.6g}"
        verdict = "passes" if self.passed else "fails"
        against = "" if self.baseline is None else f" (production: {self.baseline:.6g})"
        return f"{self.metric} on {self.slice} = {shown}{against} {verdict} {self.bound}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form, with the ``message`` for readers of the file."""
        return asdict(self) | {"message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        """Read what :meth:`to_dict` wrote (the ``message`` is derived, not read)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Blessing:
    blessed: bool
    checks: list[Check]

    @property
    def reasons(self) -> list[str]:
        """Why the candidate was not blessed (empty when it was)."""
        return [check.message for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "blessed": self.blessed,
            "checks": [check.to_dict() for check in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Blessing:
        """Read what :meth:`to_dict` wrote."""
        checks = [Check.from_dict(check) for check in data["checks"]]
        return cls(blessed=data["blessed"], checks=checks)


def _bound_check(metric: str, where: str, bound: Bound, value: float | None) -> Check:
    parts = []
    if bound.lower is not None:
        parts.append(f">= {bound.lower:g}")
    if bound.upper is not None:
        parts.append(f"<= {bound.upper:g}")
    passed = value is not None and (
        (bound.lower is None or value >= bound.lower)
        and (bound.upper is None or value <= bound.upper)
    )
    return Check(metric, where, "bound", "the bound " + " and ".join(parts), value, passed)


def _change_check(metric: str, change: ChangeBound, value: float | None, baseline: float) -> Check:
    from shipyard.modeling.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER

    if metric not in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        raise DataError(f"evaluation.change_thresholds: unknown metric '{metric}'")
    lower_better = metric in LOWER_IS_BETTER
    if change.relative is not None:
        slack = abs(baseline) * change.relative
        allowed = f"{change.relative:.0%}"
    else:
        slack = change.absolute or 0.0
        allowed = f"{slack:g}"
    limit = baseline + slack if lower_better else baseline - slack
    passed = value is not None and (value <= limit if lower_better else value >= limit)
    direction = "above" if lower_better else "below"
    bound = f"the limit {limit:.6g} (at most {allowed} {direction} production)"
    return Check(metric, "overall", "change", bound, value, passed, baseline=baseline)


def bless(
    candidate: Evaluation, baseline: Evaluation | None, settings: EvaluationSettings
) -> Blessing:
    """Hold the candidate to the value thresholds and, if there is one, to production."""
    checks: list[Check] = []
    for metric, bound in settings.thresholds.items():
        checks.append(_bound_check(metric, "overall", bound, candidate.overall.get(metric)))
        if settings.gate_slices:
            for entry in candidate.slices:
                where = f"{entry.column}={entry.value}"
                checks.append(_bound_check(metric, where, bound, entry.metrics.get(metric)))
    if baseline is not None:
        for metric, change in settings.change_thresholds.items():
            reference = baseline.overall.get(metric)
            if reference is not None:
                checks.append(
                    _change_check(metric, change, candidate.overall.get(metric), reference)
                )
    return Blessing(blessed=all(check.passed for check in checks), checks=checks)
