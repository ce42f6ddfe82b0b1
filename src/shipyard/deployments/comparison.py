"""The candidate and the primary of a deployment compared on the same traffic.

Each arm is the set of answers its version gave inside the window, returned or shadow;
the servers' counters give requests and errors (failed requests leave no answer in the
log).  Where one arm shadowed the other — in a canary the primary answers in shadow
what the candidate answered; in a shadow deployment the candidate does — each shadow
answer and the answer it shadows form a *pair*: two answers to one request.  Agreement
is measured on pairs, and so is the distance between the arms' outputs when there are
pairs (blue-green has none; then every answer of each arm counts).

The distance is the Jensen-Shannon distance (base 2): bounded in [0, 1], so one bound
in ``shipyard.yaml`` means the same for every model; symmetric, so neither arm is the
"truth"; finite when one arm gives a class the other never gives (Kullback-Leibler is
not); and the measure monitoring uses for numeric drift, so the numbers read alike.
Classes are compared on their frequencies; numbers on shared bins cut at the primary's
quintiles, plus one bin below and one above its range so that outliers count.

Feedback is joined to both arms: a shadow answer takes the label of the answer it
shadows.  Every figure carries its count, so a metric on twelve labels looks like one.

>>> comparison = project.deployments.compare("ames")  # doctest: +SKIP
>>> comparison.candidate.latency_p99_ms, comparison.agreement.share_same  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from shipyard.config import Task
from shipyard.data.drift import jensen_shannon_distance
from shipyard.modeling.metrics import answer_metrics
from shipyard.store.records import ArmCounts, DeploymentRecord

__all__ = [
    "Agreement",
    "ArmSummary",
    "Comparison",
    "PairedFeedback",
    "compare_arms",
    "window_counts",
]

ArmName = Literal["primary", "candidate"]
#: Bins of a regression model's outputs: the primary's quintiles.  Deciles would see
#: finer shifts, but on 50 answers two samples of one distribution are then typically
#: 0.18 apart (0.12 on quintiles), too near any useful bound.
OUTPUT_BINS = 5


@dataclass(frozen=True)
class ArmSummary:
    """What one arm (one version) did inside the window."""

    arm: ArmName
    version: int
    requests: int
    """Requests this arm answered for the caller, as the servers counted them."""
    errors: int
    shadow_requests: int
    """Requests this arm answered in shadow (logged, never returned)."""
    shadow_errors: int
    answers: int
    """Its answers in the prediction log, returned and shadow..."""
    shadow_answers: int
    """...of which shadow answers."""
    latency_p50_ms: float | None
    """Of its returned answers: from the request's arrival to its answer."""
    latency_p99_ms: float | None
    shadow_latency_p50_ms: float | None
    """Of its shadow answers: the model call alone (a copy waits for no caller), so it
    is compared with shadow latency, never with a returned answer's."""
    shadow_latency_p99_ms: float | None
    labelled: int
    """Its answers with feedback (a shadow answer shares the label of the one it shadows)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """On the labelled answers: ``accuracy`` and ``f1``, or ``rmse`` and ``mae``."""
    loss_mean: float | None = None
    """Mean loss per labelled answer (squared error, or 1 for a wrong class)..."""
    loss_sd: float | None = None
    """...and its standard deviation: whether a difference is more than chance."""

    @property
    def all_requests(self) -> int:
        return self.requests + self.shadow_requests

    @property
    def error_rate(self) -> float | None:
        """Failed requests over requests, returned and shadow; None before any request."""
        total = self.all_requests
        return (self.errors + self.shadow_errors) / total if total else None


@dataclass(frozen=True)
class Agreement:
    """How alike the arms answered the requests both answered (``pairs`` of them)."""

    pairs: int
    share_same: float | None = None
    """Classification: the share of pairs with the same class."""
    mean_absolute_difference: float | None = None
    """Regression: mean |candidate - primary|."""
    mean_relative_difference: float | None = None
    """Regression: mean |candidate - primary| over mean |primary|, so that rows near zero
    do not blow it up."""


@dataclass(frozen=True)
class PairedFeedback:
    """Both arms' metrics on the labelled requests both answered: the fairest test of
    quality, since the rows' difficulty is the same for both."""

    labelled: int
    primary: dict[str, float] = field(default_factory=dict)
    candidate: dict[str, float] = field(default_factory=dict)
    loss_difference: float | None = None
    """Mean of the candidate's loss minus the primary's, row by row..."""
    loss_difference_se: float | None = None
    """...and its standard error."""


@dataclass(frozen=True)
class Comparison:
    """The arms of one deployment compared over ``since <= time < until``."""

    model: str
    deployment: DeploymentRecord
    task: Task
    since: datetime
    until: datetime | None
    primary: ArmSummary
    candidate: ArmSummary
    agreement: Agreement
    output_distance: float | None
    """Jensen-Shannon distance (0 same, 1 disjoint) between the arms' outputs."""
    output_basis: Literal["pairs", "answers"] | None
    """What the distance was measured on: answers to the same requests, or all answers."""
    output_noise: float | None
    """The distance two samples of these sizes from one distribution typically show."""
    feedback_since: datetime
    paired_feedback: PairedFeedback = field(default_factory=lambda: PairedFeedback(0))

    @property
    def output_excess(self) -> float | None:
        """The output distance beyond what sampling alone gives: the bias-corrected
        distance, sqrt(max(0, distance² - noise²)), which a bound can hold on any
        sample size."""
        if self.output_distance is None or self.output_noise is None:
            return None
        return float(np.sqrt(max(0.0, self.output_distance**2 - self.output_noise**2)))

    @property
    def arms(self) -> tuple[ArmSummary, ArmSummary]:
        return self.primary, self.candidate

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``--format json`` and the HTTP API."""

        def arm(summary: ArmSummary) -> dict[str, Any]:
            found = asdict(summary)
            found["error_rate"] = summary.error_rate
            return found

        return {
            "model": self.model,
            "deployment": {
                "id": self.deployment.id,
                "state": self.deployment.state(),
                "describe": self.deployment.describe(),
                "analysis": self.deployment.analysis,
            },
            "task": self.task,
            "since": self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "feedback_since": self.feedback_since.isoformat(),
            "primary": arm(self.primary),
            "candidate": arm(self.candidate),
            "agreement": asdict(self.agreement),
            "output_distance": self.output_distance,
            "output_basis": self.output_basis,
            "output_noise": self.output_noise,
            "output_excess": self.output_excess,
            "paired_feedback": asdict(self.paired_feedback),
        }


def window_counts(
    counts: Mapping[str, ArmCounts], baseline: Mapping[str, tuple[int, int]] | None
) -> dict[str, tuple[int, int]]:
    """(requests, errors) per counter since ``baseline`` was taken (None: since zero)."""
    start = baseline or {}
    return {
        name: (
            found.requests - start.get(name, (0, 0))[0],
            found.errors - start.get(name, (0, 0))[1],
        )
        for name, found in counts.items()
    }


def compare_arms(
    deployment: DeploymentRecord,
    predictions: pd.DataFrame,
    *,
    task: Task,
    counts: Mapping[str, tuple[int, int]],
    labels: pd.DataFrame | None,
    since: datetime,
    until: datetime | None = None,
    feedback_since: datetime | None = None,
) -> Comparison:
    """Compare the arms of ``deployment`` on ``predictions`` (``PredictionLog.read``'s
    frame, from ``feedback_since`` or ``since``, whichever is earlier).

    ``counts`` are (requests, errors) per counter (``primary``, ``candidate``,
    ``primary.shadow``, ``candidate.shadow``); ``labels`` is ``PredictionLog.labels``'s frame.
    Everything but feedback uses the rows from ``since``; feedback, the rows from
    ``feedback_since`` (default ``since``): labels come late, and a longer window gathers
    more of them.
    """
    versions = {"primary": deployment.primary_version, "candidate": deployment.candidate_version}
    frame = predictions[predictions["version"].isin(list(versions.values()))]
    if until is not None:
        frame = frame[frame["timestamp"] < until]
    window = frame[frame["timestamp"] >= since]
    labelled_from = since if feedback_since is None else feedback_since
    feedback_frame = frame[frame["timestamp"] >= labelled_from]
    labelled = _labelled(feedback_frame, labels)

    summaries: dict[str, ArmSummary] = {}
    for arm, version in versions.items():
        answers = window[window["version"] == version]
        shadow = (answers["variant"] == "shadow").to_numpy()
        p50, p99 = _percentiles(answers.loc[~shadow, "latency_ms"])
        shadow_p50, shadow_p99 = _percentiles(answers.loc[shadow, "latency_ms"])
        own = labelled[labelled["version"] == version]
        metrics, loss_mean, loss_sd = {}, None, None
        if len(own):
            truth, predicted = _values(own["label"], task), _values(own["prediction"], task)
            metrics = answer_metrics(task, truth, predicted)
            losses = _losses(truth, predicted, task)
            loss_mean, loss_sd = (
                float(losses.mean()),
                float(losses.std(ddof=1 if len(own) > 1 else 0)),
            )
        summaries[arm] = ArmSummary(
            arm=arm,  # type: ignore[arg-type]
            version=version,
            requests=counts.get(arm, (0, 0))[0],
            errors=counts.get(arm, (0, 0))[1],
            shadow_requests=counts.get(f"{arm}.shadow", (0, 0))[0],
            shadow_errors=counts.get(f"{arm}.shadow", (0, 0))[1],
            answers=len(answers),
            shadow_answers=int(shadow.sum()),
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            shadow_latency_p50_ms=shadow_p50,
            shadow_latency_p99_ms=shadow_p99,
            labelled=len(own),
            metrics=metrics,
            loss_mean=loss_mean,
            loss_sd=loss_sd,
        )

    pairs = _pairs(window, versions["primary"], versions["candidate"])
    primary_values, candidate_values = pairs["primary"], pairs["candidate"]
    agreement = _agreement(primary_values, candidate_values, task)
    basis: Literal["pairs", "answers"] | None = "pairs"
    if not len(primary_values):
        basis = "answers"
        primary_values = window.loc[window["version"] == versions["primary"], "prediction"]
        candidate_values = window.loc[window["version"] == versions["candidate"], "prediction"]
    distance, noise = _output_distance(primary_values, candidate_values, task)
    return Comparison(
        model=deployment.model,
        deployment=deployment,
        task=task,
        since=since,
        until=until,
        primary=summaries["primary"],
        candidate=summaries["candidate"],
        agreement=agreement,
        output_distance=distance,
        output_basis=None if distance is None else basis,
        output_noise=noise,
        feedback_since=labelled_from,
        paired_feedback=_paired_feedback(
            _pairs(feedback_frame, versions["primary"], versions["candidate"]), labels, task
        ),
    )


def _percentiles(latency: pd.Series) -> tuple[float | None, float | None]:
    values = latency.to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None, None
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def _labelled(frame: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """The answers of ``frame`` that have a label: their own, or their returned answer's."""
    if labels is None or not len(labels) or not len(frame):
        return frame.head(0).assign(label=pd.Series(dtype="object"))
    key = frame["shadow_of"].where(frame["shadow_of"].notna(), frame["prediction_id"])
    keyed = frame[["version", "prediction"]].assign(key=key.astype("str"))
    found = labels[["prediction_id", "label"]].rename(columns={"prediction_id": "key"})
    return keyed.merge(found.drop_duplicates("key", keep="last"), on="key", how="inner")


def _pairs(window: pd.DataFrame, primary: int, candidate: int) -> pd.DataFrame:
    """The primary's and the candidate's answers to the requests both answered, with
    ``key``, the id of the answer that was returned."""
    shadows = window.loc[window["shadow_of"].notna(), ["shadow_of", "version", "prediction"]]
    shadows = shadows.assign(shadow_of=shadows["shadow_of"].astype("str"))
    answered = window[["prediction_id", "version", "prediction"]]
    joined = shadows.merge(
        answered, left_on="shadow_of", right_on="prediction_id", suffixes=("_shadow", "_answer")
    )
    candidate_shadows = (joined["version_shadow"] == candidate) & (
        joined["version_answer"] == primary
    )
    primary_shadows = (joined["version_shadow"] == primary) & (
        joined["version_answer"] == candidate
    )
    parts = [
        pd.DataFrame(
            {
                "key": joined.loc[candidate_shadows, "shadow_of"],
                "primary": joined.loc[candidate_shadows, "prediction_answer"],
                "candidate": joined.loc[candidate_shadows, "prediction_shadow"],
            }
        ),
        pd.DataFrame(
            {
                "key": joined.loc[primary_shadows, "shadow_of"],
                "primary": joined.loc[primary_shadows, "prediction_shadow"],
                "candidate": joined.loc[primary_shadows, "prediction_answer"],
            }
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _paired_feedback(
    pairs: pd.DataFrame, labels: pd.DataFrame | None, task: Task
) -> PairedFeedback:
    if labels is None or not len(labels) or not len(pairs):
        return PairedFeedback(labelled=0)
    found = labels[["prediction_id", "label"]].drop_duplicates("prediction_id", keep="last")
    labelled = pairs.merge(found, left_on="key", right_on="prediction_id", how="inner")
    if not len(labelled):
        return PairedFeedback(labelled=0)
    truth = _values(labelled["label"], task)
    primary, candidate = _values(labelled["primary"], task), _values(labelled["candidate"], task)
    difference = _losses(truth, candidate, task) - _losses(truth, primary, task)
    spread = float(difference.std(ddof=1)) if len(difference) > 1 else 0.0
    return PairedFeedback(
        labelled=len(labelled),
        primary=answer_metrics(task, truth, primary),
        candidate=answer_metrics(task, truth, candidate),
        loss_difference=float(difference.mean()),
        loss_difference_se=spread / float(np.sqrt(len(difference))),
    )


def _losses(
    truth: npt.NDArray[Any], predicted: npt.NDArray[Any], task: Task
) -> npt.NDArray[np.float64]:
    """Each answer's loss: its squared error, or 1 for a wrong class and 0 for a right one."""
    if task == "regression":
        return np.asarray((predicted - truth) ** 2, dtype=np.float64)
    return np.asarray(predicted != truth, dtype=np.float64)


def _values(series: pd.Series, task: Task) -> npt.NDArray[Any]:
    """Answers or labels as comparable values: numbers (NaN when not one), or class text
    (so that a label sent as ``"1"`` meets a class ``1``)."""
    if task == "regression":
        return np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
    return np.asarray([str(value) for value in series], dtype=object)


def _agreement(primary: pd.Series, candidate: pd.Series, task: Task) -> Agreement:
    if not len(primary):
        return Agreement(pairs=0)
    left, right = _values(primary, task), _values(candidate, task)
    if task == "classification":
        return Agreement(pairs=len(left), share_same=float(np.mean(left == right)))
    both = np.isfinite(left) & np.isfinite(right)
    if not both.any():
        return Agreement(pairs=len(left))
    difference = np.abs(right[both] - left[both])
    scale = float(np.mean(np.abs(left[both])))
    return Agreement(
        pairs=len(left),
        mean_absolute_difference=float(difference.mean()),
        mean_relative_difference=float(difference.mean() / scale) if scale > 0 else None,
    )


def _output_distance(
    primary: pd.Series, candidate: pd.Series, task: Task
) -> tuple[float | None, float | None]:
    """The Jensen-Shannon distance between the arms' outputs, and its sampling noise."""
    if not len(primary) or not len(candidate):
        return None, None
    left, right = _values(primary, task), _values(candidate, task)
    if task == "classification":
        counts = pd.DataFrame(
            {
                "primary": pd.Series(left).value_counts(),
                "candidate": pd.Series(right).value_counts(),
            }
        ).fillna(0.0)
        masses = [counts["primary"].to_numpy(), counts["candidate"].to_numpy()]
    else:
        left, right = left[np.isfinite(left)], right[np.isfinite(right)]
        if not len(left) or not len(right):
            return None, None
        inner = np.quantile(left, np.linspace(0.0, 1.0, OUTPUT_BINS + 1)[1:-1])
        # Bins are (a, b]: below the primary's minimum, up to each quintile and its
        # maximum, then above it.  Repeated quintiles (few distinct values) merge.
        below = np.nextafter(left.min(), -np.inf)
        edges = np.unique([below, *inner, left.max()])
        masses = [
            np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
            for values in (left, right)
        ]
    distance = jensen_shannon_distance(masses[0], masses[1])
    return distance, _sampling_noise(masses[0], masses[1])


def _sampling_noise(left: npt.NDArray[Any], right: npt.NDArray[Any]) -> float:
    """The Jensen-Shannon distance expected between two samples of one distribution,
    of these sizes, on the bins either uses.

    To second order the divergence of two samples is (k - 1)(1/n + 1/m) / (8 ln 2) bits
    more than their distributions' (k bins, n and m values): the same bias Miller and
    Madow corrected in entropy estimates.  Its square root is the distance sampling
    alone gives — 0.2 on 50 answers per arm over six bins — which a bound must not
    mistake for drift.  Answers to the same requests vary together, so for pairs this
    is an upper bound, and the correction errs towards passing.
    """
    bins = int(np.count_nonzero((left + right) > 0))
    n, m = float(left.sum()), float(right.sum())
    divergence = max(bins - 1, 0) * (1 / n + 1 / m) / (8 * np.log(2))
    return float(np.sqrt(min(divergence, 1.0)))
