"""The gate on recent truth: a retrained version must beat production on fresh labels.

The labelled predictions of the label horizon are split by a hash of their inputs, so
every pass and every run splits alike and an input asked twice never sits on both sides:
``holdout_share`` of them are held back from training, and both versions answer them.
The retrained version goes on only when, on at least
``min_fresh_labels`` rows,

- its error there — the share of wrong classes, or the RMSE — is below production's by
  ``margin`` (a share of production's error), and
- it is better beyond chance: a one-sided paired test at ``confidence`` — an exact
  binomial (sign) test on the rows only one of the two gets right, or a t-test on the
  per-row differences of absolute error — says production is not as good.

Labels that carry no signal then never promote a model (a point estimate alone would,
half the time, by luck); and under concept drift the old eval split, which describes
yesterday's world, does not get to veto a model that fits today's.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.config import Task

__all__ = ["GateResult", "judge", "split_fresh"]

_BUCKETS = 10_000


def split_fresh(labelled: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labelled`` (``PredictionLog.labelled_rows``) split into the rows to train on and
    the ``share`` held back, by a hash of each row's inputs."""
    from shipyard.prediction_log.log import LABELLED_COLUMNS

    inputs = labelled.drop(columns=[c for c in LABELLED_COLUMNS if c in labelled.columns])
    texts = [json.dumps(row, sort_keys=True, default=str) for row in inputs.to_dict("records")]
    buckets = np.array([zlib.crc32(text.encode()) % _BUCKETS for text in texts], dtype=np.int64)
    held = buckets < round(share * _BUCKETS)
    return labelled[~held], labelled[held]


@dataclass(frozen=True)
class GateResult:
    """What the gate found: whether the retrained version goes on, and why."""

    passed: bool
    reason: str
    details: dict[str, Any]


def judge(
    candidate: Any,
    production: Any,
    rows: pd.DataFrame,
    *,
    target: str,
    task: Task,
    margin: float,
    min_labels: int,
    confidence: float = 0.95,
) -> GateResult:
    """Compare two loaded versions (``registry.load``) on held-back ``rows`` (typed like
    the source table, ``target`` holding the labels)."""
    metric = "error rate" if task == "classification" else "rmse"
    details: dict[str, Any] = {"metric": metric, "labels": len(rows), "margin": margin}
    if len(rows) < min_labels:
        return GateResult(
            False,
            f"only {len(rows)} fresh labels were held back; the gate needs {min_labels} "
            "(loop.min_fresh_labels)",
            details,
        )
    truth = rows[target].to_numpy()
    answers = {
        name: np.asarray(loaded.predict(rows[list(loaded.package.input_columns)]).values, object)
        for name, loaded in (("candidate", candidate), ("production", production))
    }
    errors = {name: _error(task, truth, found) for name, found in answers.items()}
    p_value = _p_value(task, truth, answers["candidate"], answers["production"])
    details |= errors | {"p_value": p_value, "confidence": confidence}
    bound = errors["production"] * (1 - margin)
    better = errors["candidate"] < bound
    significant = p_value < 1 - confidence
    passed = better and significant
    reason = (
        f"{candidate.record.ref} {'beats' if passed else 'does not beat'} "
        f"{production.record.ref} on {len(rows)} fresh labels: {metric} "
        f"{errors['candidate']:.4g} against {errors['production']:.4g}"
    )
    if margin:
        reason += f" (it must be below {bound:.4g}, {margin:.0%} less)"
    if better and not significant:
        reason += f", but not beyond chance (p = {p_value:.3g}, {confidence:.0%} asked)"
    elif passed:
        reason += f" (p = {p_value:.3g} by a one-sided paired test, {confidence:.0%} asked)"
    return GateResult(passed, reason, details)


def _p_value(
    task: Task,
    truth: np.ndarray[Any, Any],
    candidate: np.ndarray[Any, Any],
    production: np.ndarray[Any, Any],
) -> float:
    """One-sided: the chance of seeing the candidate this much better if it were not."""
    from scipy import stats

    if task == "classification":
        right = np.array([str(a) == str(t) for a, t in zip(candidate, truth, strict=True)])
        before = np.array([str(a) == str(t) for a, t in zip(production, truth, strict=True)])
        wins, losses = int((right & ~before).sum()), int((before & ~right).sum())
        if wins + losses == 0:
            return 1.0
        return float(stats.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue)
    target = truth.astype(np.float64)
    gains = np.abs(production.astype(np.float64) - target) - np.abs(
        candidate.astype(np.float64) - target
    )
    if not np.any(gains):
        return 1.0
    return float(stats.ttest_1samp(gains, 0.0, alternative="greater").pvalue)


def _error(task: Task, truth: np.ndarray[Any, Any], answers: np.ndarray[Any, Any]) -> float:
    if task == "classification":
        wrong = [str(a) != str(t) for a, t in zip(answers, truth, strict=True)]
        return float(np.mean(wrong))
    difference = answers.astype(np.float64) - truth.astype(np.float64)
    return float(np.sqrt(np.mean(np.square(difference))))
