"""The gate on recent truth: a retrained version must beat production on fresh labels.

The labelled predictions of the label horizon are split by prediction id (a stable hash,
so every pass splits alike): ``holdout_share`` of them are held back from training, and
both versions answer them.  The retrained version goes on only when its error there —
the share of wrong classes, or the RMSE — is below production's by ``margin`` (a share
of production's error), on at least ``min_fresh_labels`` rows.  Labels that carry no
signal then never promote a model; and under concept drift the old eval split, which
describes yesterday's world, does not get to veto a model that fits today's.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.config import Task

__all__ = ["GateResult", "judge", "split_fresh"]

_BUCKETS = 10_000


def split_fresh(labelled: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labelled`` split into the rows to train on and the ``share`` held back."""
    buckets = np.array(
        [zlib.crc32(str(pid).encode()) % _BUCKETS for pid in labelled["prediction_id"]],
        dtype=np.int64,
    )
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
    errors = {}
    for name, loaded in (("candidate", candidate), ("production", production)):
        answers = loaded.predict(rows[list(loaded.package.input_columns)]).values
        errors[name] = _error(task, truth, np.asarray(answers, dtype=object))
    details |= errors
    bound = errors["production"] * (1 - margin)
    passed = errors["candidate"] < bound
    verdict = "beats" if passed else "does not beat"
    reason = (
        f"{candidate.record.ref} {verdict} {production.record.ref} on {len(rows)} fresh "
        f"labels: {metric} {errors['candidate']:.4g} against {errors['production']:.4g}"
    )
    if margin:
        reason += f" (it must be below {bound:.4g}, {margin:.0%} less)"
    return GateResult(passed, reason, details)


def _error(task: Task, truth: np.ndarray[Any, Any], answers: np.ndarray[Any, Any]) -> float:
    if task == "classification":
        wrong = [str(a) != str(t) for a, t in zip(answers, truth, strict=True)]
        return float(np.mean(wrong))
    difference = answers.astype(np.float64) - truth.astype(np.float64)
    return float(np.sqrt(np.mean(np.square(difference))))
