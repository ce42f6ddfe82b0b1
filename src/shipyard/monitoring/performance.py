"""How good a model is in a monitoring window: realised from labels, estimated without.

``realised_performance`` scores the window's answers that got feedback, with an interval
for each metric: labels trickle in, and a window's accuracy on 30 labels says far less
than the same number on 3,000.  Accuracy gets a Wilson interval; the other metrics a
seeded percentile bootstrap.  The values follow ``shipyard.modeling.metrics`` exactly (f1
is binary on the last class for two classes, else the macro average; AUC is one-vs-rest),
so a window compares with the version's evaluation metrics.

``estimated_performance`` guesses a classifier's performance before any label arrives,
from its calibrated confidence (the idea of confidence-based performance estimation):
when the confidence is calibrated, the mean confidence *is* the expected accuracy, and
the calibrated class probabilities give expected counts of true and false positives.
The estimate follows covariate shift (inputs moving to where the model is less sure) but
cannot see concept shift (the same inputs now meaning something else): only labels can.

>>> import numpy as np
>>> found = realised_performance("classification", ["a", "b", "b", "a"], ["a", "b", "a", "a"])
>>> found["accuracy"].value, found["accuracy"].count
(0.75, 4)
>>> round(estimated_performance(np.array([[0.9, 0.1], [0.2, 0.8]]), ["a", "b"],
...                             confidence=None)["accuracy"], 3)
0.85
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from shipyard.config import Task
from shipyard.errors import DataError

if TYPE_CHECKING:  # its module imports scikit-learn, which the CLI must not load at start
    from shipyard.modeling.confidence import ConfidenceModel

__all__ = ["MetricInterval", "estimated_performance", "realised_performance"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
_Float = TypeVar("_Float", np.float32, np.float64)
MAX_DRAWS = 20_000_000
"""Most index-matrix entries (resamples x rows) held at once: 80 MB of float32 counts."""


@dataclass(frozen=True)
class MetricInterval:
    """A metric's value on a window's labelled rows and its ``level`` interval."""

    value: float
    lower: float
    upper: float
    count: int  # labelled rows it rests on

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "count": self.count}


def realised_performance(
    task: Task,
    truth: npt.ArrayLike,
    predicted: npt.ArrayLike,
    *,
    probabilities: npt.NDArray[np.float64] | None = None,
    classes: Sequence[Any] | None = None,
    level: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> dict[str, MetricInterval]:
    """The metrics of the labelled answers, each with a ``level`` interval.

    Classifiers: ``accuracy`` (Wilson interval), ``f1`` and, given probabilities whose
    columns follow ``classes`` and a truth holding every class, ``roc_auc`` (bootstrap).
    Without ``classes`` they are the sorted labels seen.  Labels outside ``classes``
    count as wrong answers.  Regressors: ``rmse``, ``mae`` and (on two or more rows of a
    non-constant truth) ``r2``, by bootstrap.  All resamples share one index matrix, so
    10,000 labelled rows take milliseconds.
    """
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1 (e.g. 0.95), not {level}")
    if resamples < 1:
        raise DataError(f"resamples must be at least 1, not {resamples}")
    y = _column(truth, "truth")
    p = _column(predicted, "predicted")
    if len(y) != len(p):
        raise DataError(
            f"truth has {len(y)} rows but predicted has {len(p)}; pass one prediction per label"
        )
    if len(y) == 0:
        raise DataError("no labelled rows: a window's performance needs at least one label")
    if task == "regression":
        return _regression(y, p, _resampled(len(y), resamples, seed, np.float64), level)
    if task != "classification":
        raise DataError(f"task must be 'classification' or 'regression', not {task!r}")
    if probabilities is not None:
        if classes is None:
            raise DataError("probabilities need the classes their columns follow; pass classes=")
        matrix = _probabilities(probabilities, len(classes), rows=len(y))
    else:
        matrix = None
    labels = list(classes) if classes is not None else _sorted_labels(y, p)
    counts = _resampled(len(y), resamples, seed, np.float32)
    return _classification(y, p, matrix, labels, counts, level)


def estimated_performance(
    probabilities: npt.NDArray[np.float64],
    classes: Sequence[Any],
    *,
    confidence: ConfidenceModel | None,
) -> dict[str, float]:
    """A classifier's expected ``accuracy``, ``f1`` and (unless every row is certain of
    one side) ``roc_auc`` on unlabelled rows.

    The expected accuracy is the mean calibrated top-label confidence.  Calibrated class
    probabilities come from it: for two classes the positive class (``classes[-1]``)
    has c when it is the answer and 1 - c otherwise; for more, the answer gets c and the
    other classes share 1 - c in proportion to their raw probabilities.  From those,
    expected true/false positives and false negatives give ``f1`` (macro over classes
    for more than two), and ``roc_auc`` counts each row as a positive of weight q and a
    negative of weight 1 - q, ranked by the raw probability (one-vs-rest, macro).
    Without a confidence model the raw probabilities are taken as calibrated.
    """
    labels = list(classes)
    if len(labels) < 2:
        raise DataError(f"a classifier has at least two classes, not {labels!r}")
    raw = _probabilities(probabilities, len(labels), rows=None)
    if len(raw) == 0:
        raise DataError("no rows to estimate performance on")
    answer = raw.argmax(axis=1)
    rows = np.arange(len(raw))
    if confidence is None:
        calibrated = raw
        top = raw[rows, answer]
    else:
        top = np.clip(confidence.confidence(raw), 0.0, 1.0)
        calibrated = _spread(raw, answer, top)
    shown = np.zeros_like(raw)
    shown[rows, answer] = 1.0
    # Expected counts per class: answered c and right, answered c and wrong, missed c.
    true_positive = (shown * calibrated).sum(axis=0)
    false_positive = (shown * (1.0 - calibrated)).sum(axis=0)
    false_negative = ((1.0 - shown) * calibrated).sum(axis=0)
    f1 = _f1(true_positive, false_positive, false_negative)
    if len(labels) == 2:
        auc = _weighted_auc(raw[:, 1], calibrated[:, 1], 1.0 - calibrated[:, 1])
        f1_value = float(f1[1])
    else:
        auc = float(
            np.mean(
                [
                    _weighted_auc(raw[:, k], calibrated[:, k], 1.0 - calibrated[:, k])
                    for k in range(len(labels))
                ]
            )
        )
        f1_value = float(f1.mean())
    estimate = {"accuracy": float(top.mean()), "f1": f1_value}
    if math.isfinite(auc):  # NaN when no row can be a positive (or a negative) at all
        estimate["roc_auc"] = auc
    return estimate


# --- validation ------------------------------------------------------------------------


def _column(values: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be one value per row, not an array of shape {array.shape}")
    return array


def _probabilities(values: npt.ArrayLike, classes: int, *, rows: int | None) -> Floats:
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"probabilities must be numbers: {exc}") from exc
    expected = f"{rows if rows is not None else 'n'} x {classes}"
    if matrix.ndim != 2 or matrix.shape[1] != classes or (rows is not None and len(matrix) != rows):
        raise DataError(
            f"probabilities must be a rows x classes matrix ({expected}, one column per "
            f"class in the order of classes), not shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise DataError("probabilities hold NaN or infinite values; drop or repair those rows")
    return matrix


def _sorted_labels(y: npt.NDArray[Any], p: npt.NDArray[Any]) -> list[Any]:
    seen = set(y.tolist()) | set(p.tolist())
    try:
        return sorted(seen)
    except TypeError as exc:
        raise DataError(
            "labels of different types cannot be ordered; pass classes= to say their order"
        ) from exc


# --- realised --------------------------------------------------------------------------


def _resampled(
    rows: int, resamples: int, seed: int, kind: type[_Float]
) -> Iterator[npt.NDArray[_Float]]:
    """How often each row is drawn in each resample (resamples x rows), from one seeded
    index matrix, in batches of at most ``MAX_DRAWS`` entries so that a window of a
    million labels does not take gigabytes.  Counted one resample at a time: a row of
    counts stays in cache, one big ``bincount`` does not.  Float32 holds the counts
    exactly and halves the memory the sums read."""
    rng = np.random.default_rng(seed)
    batch = max(1, MAX_DRAWS // rows)
    for start in range(0, resamples, batch):
        index = rng.integers(0, rows, size=(min(batch, resamples - start), rows), dtype=np.int32)
        counts = np.empty((len(index), rows), dtype=kind)
        for resample, drawn in enumerate(index):
            counts[resample] = np.bincount(drawn, minlength=rows)
        yield counts


def _weighted_sums(counts: npt.NDArray[np.floating[Any]], columns: Floats) -> Floats:
    """Each resample's sum of each column (resamples x columns).  ``einsum`` rather than
    a matrix product: BLAS starts threads that, on a busy machine, cost ten times the
    sums (and float32 counts keep integer sums below 2**24 exact)."""
    columns = np.asarray(columns, dtype=counts.dtype)
    found = [np.einsum("rn,n->r", counts, columns[:, k]) for k in range(columns.shape[1])]
    return np.stack(found, axis=1).astype(np.float64)


def _interval(value: float, draws: Floats, level: float, count: int) -> MetricInterval:
    """Percentile interval of the resampled values, widened to hold ``value`` (skewed
    metrics on few rows can put the percentiles on one side of it)."""
    finite = draws[np.isfinite(draws)]
    if len(finite) == 0:
        return MetricInterval(value, value, value, count)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return MetricInterval(value, min(float(low), value), max(float(high), value), count)


def _regression(
    y: Any, p: Any, batches: Iterator[Floats], level: float
) -> dict[str, MetricInterval]:
    try:
        truth = np.asarray(y, dtype=np.float64)
        guess = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"a regressor's truth and predictions must be numbers: {exc}") from exc
    rows = len(truth)
    error = truth - guess
    squared = error * error
    absolute = np.abs(error)
    # Centred first: the total sum of squares does not move, the rounding does.
    centred = truth - truth.mean()
    columns = np.stack([squared, absolute, centred, centred * centred], axis=1)
    sums = np.concatenate([_weighted_sums(counts, columns) for counts in batches])
    result = {
        "rmse": _interval(
            math.sqrt(float(squared.mean())), np.sqrt(sums[:, 0] / rows), level, rows
        ),
        "mae": _interval(float(absolute.mean()), sums[:, 1] / rows, level, rows),
    }
    if rows >= 2 and float(np.var(truth)) > 0:
        total = float((centred * centred).sum())
        totals = sums[:, 3] - sums[:, 2] ** 2 / rows
        with np.errstate(divide="ignore", invalid="ignore"):
            draws = 1.0 - sums[:, 0] / totals
        draws[totals <= 0] = np.nan
        result["r2"] = _interval(1.0 - float(squared.sum()) / total, draws, level, rows)
    return result


def _codes(values: npt.NDArray[Any], labels: Sequence[Any]) -> Ints:
    """Each value's position in ``labels``; ``len(labels)`` for a value outside them."""
    where = {label: k for k, label in enumerate(labels)}
    outside = len(labels)
    if values.dtype == object:  # a lookup per row beats sorting Python objects
        return np.fromiter(
            (where.get(v, outside) for v in values.tolist()), dtype=np.intp, count=len(values)
        )
    distinct, inverse = np.unique(values, return_inverse=True)
    found = np.array([where.get(v, outside) for v in distinct.tolist()], dtype=np.intp)
    return np.asarray(found[inverse.reshape(-1)], dtype=np.intp)


def _classification(
    y: npt.NDArray[Any],
    p: npt.NDArray[Any],
    probabilities: Floats | None,
    labels: Sequence[Any],
    batches: Iterator[npt.NDArray[np.float32]],
    level: float,
) -> dict[str, MetricInterval]:
    rows, classes = len(y), len(labels)
    truth, answer = _codes(y, labels), _codes(p, labels)
    if probabilities is not None:
        # The resamples draw positions uniformly, so the rows may stand in any order: the
        # order the (first) AUC reads — its negatives by score, then its positives — lets
        # it slice the counts instead of copying them.
        k = 1 if classes == 2 else 0
        first = truth == k
        negatives = np.flatnonzero(~first)
        negatives = negatives[np.argsort(probabilities[negatives, k], kind="stable")]
        arranged = np.r_[negatives, np.flatnonzero(first)]
        truth, answer, probabilities = truth[arranged], answer[arranged], probabilities[arranged]
    # Labels outside the classes are wrong answers, even when both sides hold the same one.
    correct = (truth == answer) & (truth < classes)
    right = int(correct.sum())
    low, high = _wilson(right, rows, level)
    result = {"accuracy": MetricInterval(right / rows, low, high, rows)}

    # ROC AUC needs every class among the labels (both, for two classes).
    present = np.bincount(truth, minlength=classes + 1)[:classes] > 0
    scored = probabilities is not None and bool(present.all())
    # The classes the metrics read: the positive (last) one of two, else all of them.
    ks = [1] if classes == 2 else list(range(classes))
    # One column per class of "answered k", "truly k" and "both"; the counts matrix turns
    # them into every resample's confusion totals.
    answered = (answer[:, None] == np.array(ks)).astype(np.float32)
    actual = (truth[:, None] == np.array(ks)).astype(np.float32)
    both = answered * actual
    tp = both.sum(axis=0, dtype=np.float64)
    fp = answered.sum(axis=0, dtype=np.float64) - tp
    fn = actual.sum(axis=0, dtype=np.float64) - tp
    f1_draws, auc_draws = [], []
    for counts in batches:
        tps, answereds, actuals = (
            _weighted_sums(counts, columns) for columns in (both, answered, actual)
        )
        f1_draws.append(_f1(tps, answereds - tps, actuals - tps).mean(axis=1))
        if probabilities is not None and scored:
            aucs = [_bootstrap_auc(probabilities[:, k], truth == k, counts) for k in ks]
            auc_draws.append(np.mean(aucs, axis=0))
    f1_value = float(_f1(tp, fp, fn).mean())  # macro over several classes
    result["f1"] = _interval(f1_value, np.concatenate(f1_draws), level, rows)
    if probabilities is not None and scored:
        once = np.ones((1, rows))
        value = np.mean([_bootstrap_auc(probabilities[:, k], truth == k, once) for k in ks])
        result["roc_auc"] = _interval(float(value), np.concatenate(auc_draws), level, rows)
    return result


def _wilson(successes: int, total: int, level: float) -> tuple[float, float]:
    from shipyard.review.stats import wilson_interval  # imports scikit-learn

    return wilson_interval(successes, total, z=NormalDist().inv_cdf(0.5 + level / 2))


def _f1(tp: Floats, fp: Floats, fn: Floats) -> Floats:
    """F1 per class (and per resample), 0 where it is undefined, as sklearn's
    ``zero_division=0`` has it."""
    denominator = 2.0 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        found = np.where(denominator > 0, 2.0 * tp / denominator, 0.0)
    return np.asarray(found, dtype=np.float64)


# --- ROC AUC ---------------------------------------------------------------------------


def _bootstrap_auc(
    scores: Floats, positive: npt.NDArray[np.bool_], counts: npt.NDArray[np.floating[Any]]
) -> Floats:
    """ROC AUC of every resample (a row of ``counts``): the chance a positive outranks a
    negative, ties counting half; NaN for a resample without both.

    Each positive beats the negatives whose scores are lower: a running count over the
    negatives in score order, read where each positive's score falls.
    """
    negatives = np.flatnonzero(~positive)
    negatives = negatives[np.argsort(scores[negatives], kind="stable")]
    positives = np.flatnonzero(positive)
    if np.array_equal(negatives, np.arange(len(negatives))):  # rows arranged for this AUC
        drawn_negatives = counts[:, : len(negatives)]
        drawn = counts[:, len(negatives) :]
    else:
        drawn_negatives, drawn = counts[:, negatives], counts[:, positives]
    below = np.zeros((len(counts), len(negatives) + 1), dtype=counts.dtype)
    np.cumsum(drawn_negatives, axis=1, out=below[:, 1:])
    ranked = scores[negatives]
    lower = np.searchsorted(ranked, scores[positives], side="left")
    upper = np.searchsorted(ranked, scores[positives], side="right")
    beaten = below[:, lower]
    if (upper != lower).any():  # tied scores count half
        beaten = 0.5 * (beaten + below[:, upper])
    wins = (drawn * beaten).sum(axis=1, dtype=np.float64)
    pairs = drawn.sum(axis=1, dtype=np.float64) * below[:, -1].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        found = np.where(pairs > 0, wins / pairs, np.nan)
    return np.asarray(found, dtype=np.float64)


def _weighted_auc(scores: Floats, positive: Floats, negative: Floats) -> float:
    """ROC AUC with each row a positive of weight ``positive`` and a negative of weight
    ``negative``, ranked by ``scores`` (ties count half): the area sklearn's
    ``roc_auc_score`` gives the rows twice over with those sample weights."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    pos, neg = positive[order], negative[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    if len(starts) < len(ranked):  # one group per distinct score
        pos, neg = np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)
    below = np.cumsum(neg) - neg
    pairs = float(pos.sum() * neg.sum())
    if pairs <= 0:
        return math.nan
    return float((pos * (below + 0.5 * neg)).sum() / pairs)


# --- estimated -------------------------------------------------------------------------


def _spread(raw: Floats, answer: Ints, top: Floats) -> Floats:
    """Class probabilities whose answer has the calibrated ``top``; the other classes
    share ``1 - top`` in proportion to their raw probabilities (equally when those are
    all 0).  For two classes this is exactly ``top`` and ``1 - top``."""
    rows = np.arange(len(raw))
    others = raw.copy()
    others[rows, answer] = 0.0
    rest = others.sum(axis=1)
    even = (rest <= 0)[:, None] & np.ones_like(raw, dtype=bool)
    even[rows, answer] = False
    others = np.where(even, 1.0, others)
    share = others / others.sum(axis=1, keepdims=True)
    calibrated: Floats = share * (1.0 - top)[:, None]
    calibrated[rows, answer] = top
    return calibrated
