"""Confidence that means something: calibrated classifiers, conformal regressors.

At the ``partial`` automation level a confident answer is a decision and the others go
to a person.  Users set a target, not a threshold (``target_precision`` for classifiers,
``max_interval_width`` for regressors); this module turns the eval split's predictions
into a ``ConfidenceModel`` that states what an answer's confidence means, and into an
``AutomationPlan`` that says which answers are decided alone and what that promises.

Classifiers: top-label calibration.  An isotonic regression of "the predicted class is
right" on the predicted class's raw probability, stored as its knots and evaluated with
``np.interp`` (the same linear interpolation scikit-learn uses).  The calibration
error after calibration and the precision the plan promises come from out-of-fold
(5-fold, seeded) calibrated confidences, so they are not measured on the rows that
fitted them.  The share the plan promises is that of the final calibrator (fitted on
every eval row): it is the one serving thresholds, and the out-of-fold calibrators'
plateaus fall elsewhere, which made their share miss held-out data by up to 0.1.

Regressors: split conformal intervals, Mondrian by predicted value: the eval predictions
are cut into bins at their quantiles and each bin gets the conformal quantile of its
absolute residuals as half-width, so widths follow how hard each region is.  The
coverage recorded is out of fold.  This is a few lines of numpy rather than MAPIE on
purpose: serving needs a lookup per row from a plain JSON file, not a fitted estimator
to unpickle and call.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> values = rng.uniform(0, 10, 400)
>>> model = fit_confidence("regression", truth=values + rng.normal(0, 1, 400),
...                        values=values, probabilities=None, classes=None)
>>> plan = model.plan(max_interval_width=5.0)
>>> bool(model.auto_mask(plan, values=values[:3]).all())
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.config import Task
from shipyard.errors import ArtifactError, DataError
from shipyard.modeling.metrics import calibration_error, confidence_calibration_error

__all__ = [
    "CONFIDENCE_METRICS",
    "MIN_EVAL_ROWS",
    "AutomationPlan",
    "Calibration",
    "ConfidenceModel",
    "ConformalBins",
    "fit_confidence",
]

MIN_EVAL_ROWS = 20
"""Fewer labelled eval rows than this give no confidence model: every answer is unsure."""
CONFIDENCE_METRICS = frozenset(
    {
        "calibration_error_before",
        "calibration_error_after",
        "interval_coverage",
        "mean_interval_width",
        "auto_threshold",
        "expected_auto_share",
        "expected_auto_precision",
        "expected_auto_coverage",
    }
)
"""The metric names of ``ConfidenceModel.summary`` and ``AutomationPlan.to_metrics``."""
FOLDS = 5
CURVE_POINTS = 512
MAX_BINS = 10
MIN_BIN_ROWS = 30
FORMAT = 1

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AutomationPlan:
    """Which answers are decided without a person, and what that promises on eval rows.

    Classifiers: answers whose calibrated confidence is at least ``threshold`` are
    decisions; ``threshold`` is the lowest one that keeps the eval precision of the
    decided answers at ``target`` or above, so the decided share is as large as it can
    be.  Regressors: answers whose interval is at most ``threshold`` wide are decisions.
    ``threshold`` is None when nothing is decided alone (no threshold reaches the target,
    or no width was set): every answer then goes to review, and the share is 0.

    The share is that of eval rows the stored calibrator (or bins) decides; the
    precision is that of eval rows whose out-of-fold confidence reaches the threshold,
    and the coverage that of the decided bins' out-of-fold intervals.
    """

    threshold: float | None
    expected_auto_share: float
    expected_precision: float | None = None
    expected_coverage: float | None = None
    target: float | None = None

    def to_metrics(self) -> dict[str, float]:
        """``auto_threshold``, ``expected_auto_share`` and ``expected_auto_precision`` (or
        ``expected_auto_coverage``); the undefined ones are left out when nothing is
        decided alone, so a metrics table never holds NaN."""
        metrics = {"expected_auto_share": self.expected_auto_share}
        if self.threshold is not None:
            metrics["auto_threshold"] = self.threshold
        if self.expected_precision is not None:
            metrics["expected_auto_precision"] = self.expected_precision
        if self.expected_coverage is not None:
            metrics["expected_auto_coverage"] = self.expected_coverage
        return metrics


@dataclass(frozen=True)
class Calibration:
    """A classifier's top-label calibration and its precision curve.

    ``knots_x``/``knots_y``: the isotonic step function (raw top probability →
    probability the answer is right).  ``curve_*``: for each threshold (ascending), the
    share of eval rows whose calibrated confidence reaches it, and the precision of the
    rows whose out-of-fold confidence reaches it.
    """

    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    curve_threshold: tuple[float, ...]
    curve_share: tuple[float, ...]
    curve_precision: tuple[float, ...]
    error_before: float
    error_after: float


@dataclass(frozen=True)
class ConformalBins:
    """A regressor's Mondrian conformal intervals: bins of the predicted value.

    ``edges`` are the inner bin boundaries (a value equal to an edge belongs to the bin
    above); each bin has a ``half_widths`` entry, the ``shares`` of eval rows it holds
    and the out-of-fold ``coverages`` of those rows.
    """

    coverage: float
    edges: tuple[float, ...]
    half_widths: tuple[float, ...]
    shares: tuple[float, ...]
    coverages: tuple[float, ...]
    empirical_coverage: float


@dataclass(frozen=True)
class ConfidenceModel:
    """What a model's answers' confidence means, fitted on its eval split.

    Serving asks, per batch: ``auto_mask(plan, probabilities=...)`` (classifiers) or
    ``auto_mask(plan, values=...)`` (regressors) — one ``np.interp`` or one
    ``np.searchsorted`` over the batch.
    """

    task: Task
    eval_rows: int
    calibration: Calibration | None = None
    conformal: ConformalBins | None = None

    def confidence(self, probabilities: Floats) -> Floats:
        """Calibrated confidence of each row's top class (classifiers)."""
        calibration = self._calibration()
        top = np.asarray(probabilities, dtype=np.float64).max(axis=1)
        calibrated: Floats = np.interp(top, calibration.knots_x, calibration.knots_y)
        return calibrated

    def intervals(self, values: Floats) -> tuple[Floats, Floats]:
        """Low and high ends of each predicted value's conformal interval (regressors)."""
        points = np.asarray(values, dtype=np.float64)
        half = self._half_widths(points)
        return points - half, points + half

    def widths(self, values: Floats) -> Floats:
        """Width of each predicted value's interval: twice its half-width, the number a
        plan's threshold is compared with."""
        return 2.0 * self._half_widths(np.asarray(values, dtype=np.float64))

    def auto_mask(
        self,
        plan: AutomationPlan,
        *,
        probabilities: Floats | None = None,
        values: Floats | None = None,
    ) -> Mask:
        """Which rows the plan decides without a person (all False without a threshold)."""
        if self.task == "classification":
            if probabilities is None:
                raise DataError("auto_mask needs the probabilities of a classifier's answers")
            scores = self.confidence(probabilities)
            if plan.threshold is None:
                return np.zeros(len(scores), dtype=bool)
            return np.asarray(scores >= plan.threshold, dtype=bool)
        if values is None:
            raise DataError("auto_mask needs the predicted values of a regressor's answers")
        widths = self.widths(values)
        if plan.threshold is None:
            return np.zeros(len(widths), dtype=bool)
        return np.asarray(widths <= plan.threshold, dtype=bool)

    def plan(
        self, *, target_precision: float | None = None, max_interval_width: float | None = None
    ) -> AutomationPlan:
        """The automation plan for a target precision (classifiers) or a largest interval
        width (regressors); the argument of the other task is ignored."""
        if self.calibration is not None:
            return _precision_plan(self.calibration, target_precision)
        return _width_plan(self._conformal(), max_interval_width)

    def summary(self) -> dict[str, float]:
        """``calibration_error_before``/``_after``, or ``interval_coverage`` and
        ``mean_interval_width`` (over the eval rows)."""
        if self.calibration is not None:
            return {
                "calibration_error_before": self.calibration.error_before,
                "calibration_error_after": self.calibration.error_after,
            }
        conformal = self._conformal()
        mean_width = 2.0 * float(np.dot(conformal.shares, conformal.half_widths))
        return {
            "interval_coverage": conformal.empirical_coverage,
            "mean_interval_width": mean_width,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: numbers and lists only."""
        data: dict[str, Any] = {"format": FORMAT, "task": self.task, "eval_rows": self.eval_rows}
        if self.calibration is not None:
            c = self.calibration
            data["calibration"] = {
                "knots_x": list(c.knots_x),
                "knots_y": list(c.knots_y),
                "curve_threshold": list(c.curve_threshold),
                "curve_share": list(c.curve_share),
                "curve_precision": list(c.curve_precision),
                "error_before": c.error_before,
                "error_after": c.error_after,
            }
        if self.conformal is not None:
            b = self.conformal
            data["conformal"] = {
                "coverage": b.coverage,
                "edges": list(b.edges),
                "half_widths": list(b.half_widths),
                "shares": list(b.shares),
                "coverages": list(b.coverages),
                "empirical_coverage": b.empirical_coverage,
            }
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ConfidenceModel:
        """Read what :meth:`to_dict` wrote; anything else is an ``ArtifactError``."""
        try:
            if data["format"] != FORMAT:
                raise ValueError(f"format {data['format']!r} is not {FORMAT}")
            task = data["task"]
            calibration = conformal = None
            if task == "classification":
                c = data["calibration"]
                calibration = Calibration(
                    knots_x=_floats(c["knots_x"]),
                    knots_y=_floats(c["knots_y"]),
                    curve_threshold=_floats(c["curve_threshold"]),
                    curve_share=_floats(c["curve_share"]),
                    curve_precision=_floats(c["curve_precision"]),
                    error_before=float(c["error_before"]),
                    error_after=float(c["error_after"]),
                )
                _same_length(calibration.knots_x, calibration.knots_y, at_least=1)
                _same_length(
                    calibration.curve_threshold,
                    calibration.curve_share,
                    calibration.curve_precision,
                    at_least=0,
                )
            elif task == "regression":
                b = data["conformal"]
                conformal = ConformalBins(
                    coverage=float(b["coverage"]),
                    edges=_floats(b["edges"]),
                    half_widths=_floats(b["half_widths"]),
                    shares=_floats(b["shares"]),
                    coverages=_floats(b["coverages"]),
                    empirical_coverage=float(b["empirical_coverage"]),
                )
                _same_length(
                    conformal.half_widths, conformal.shares, conformal.coverages, at_least=1
                )
                if len(conformal.edges) != len(conformal.half_widths) - 1:
                    raise ValueError("there must be one edge fewer than bins")
            else:
                raise ValueError(f"unknown task {task!r}")
            return cls(
                task=task,
                eval_rows=int(data["eval_rows"]),
                calibration=calibration,
                conformal=conformal,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"the confidence model is malformed: {exc!r}") from exc

    def _calibration(self) -> Calibration:
        if self.calibration is None:
            raise DataError("calibrated confidence is for classifiers; use intervals()")
        return self.calibration

    def _conformal(self) -> ConformalBins:
        if self.conformal is None:
            raise DataError("conformal intervals are for regressors; use confidence()")
        return self.conformal

    def _half_widths(self, values: Floats) -> Floats:
        conformal = self._conformal()
        bins = np.searchsorted(conformal.edges, values, side="right")
        return np.asarray(conformal.half_widths, dtype=np.float64)[bins]


def _floats(values: Any) -> tuple[float, ...]:
    found = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in found):
        raise ValueError("numbers must be finite")
    return found


def _same_length(*columns: tuple[float, ...], at_least: int) -> None:
    if len({len(c) for c in columns}) != 1 or len(columns[0]) < at_least:
        raise ValueError("lists that go together differ in length or are empty")


def fit_confidence(
    task: Task,
    *,
    truth: npt.ArrayLike,
    values: npt.ArrayLike,
    probabilities: Floats | None,
    classes: Sequence[Any] | None,
    coverage: float = 0.9,
    seed: int = 0,
) -> ConfidenceModel:
    """Fit a confidence model on the eval split's labelled rows and predictions.

    ``values`` are the predicted labels (classifiers: the top class of
    ``probabilities``, whose columns follow ``classes``) or the predicted numbers.
    """
    truth_array = np.asarray(truth, dtype=object if task == "classification" else np.float64)
    rows = len(truth_array)
    if rows < MIN_EVAL_ROWS:
        raise DataError(
            f"a confidence model needs at least {MIN_EVAL_ROWS} labelled eval rows, not {rows}; "
            "raise data.split.eval_fraction or add data"
        )
    if task == "classification":
        if probabilities is None or classes is None:
            raise DataError("a classifier's confidence model needs its probabilities and classes")
        calibration = _fit_calibration(truth_array, values, probabilities, classes, seed=seed)
        return ConfidenceModel(task=task, eval_rows=rows, calibration=calibration)
    if not 0 < coverage < 1:
        raise DataError(f"coverage must be between 0 and 1, not {coverage}")
    predicted = np.asarray(values, dtype=np.float64)
    conformal = _fit_conformal(truth_array, predicted, coverage=coverage, seed=seed)
    return ConfidenceModel(task=task, eval_rows=rows, conformal=conformal)


def _isotonic(top: Floats, correct: Floats) -> Any:
    # Imported here: fitting happens in the Trainer only, and scikit-learn's isotonic
    # module costs most of a second to import in every process that loads a package.
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return model.fit(top, correct)


def _fit_calibration(
    truth: npt.NDArray[Any],
    values: npt.ArrayLike,
    probabilities: Floats,
    classes: Sequence[Any],
    *,
    seed: int,
) -> Calibration:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    top = probabilities.max(axis=1)
    correct = (np.asarray(values, dtype=object) == truth).astype(np.float64)
    from sklearn.model_selection import KFold

    folded = np.empty(len(top))
    for fit_rows, held_rows in KFold(FOLDS, shuffle=True, random_state=seed).split(top):
        folded[held_rows] = _isotonic(top[fit_rows], correct[fit_rows]).predict(top[held_rows])
    final = _isotonic(top, correct)
    knots_x = np.asarray(final.X_thresholds_, dtype=np.float64)
    knots_y = np.asarray(final.y_thresholds_, dtype=np.float64)
    calibrated = np.interp(top, knots_x, knots_y)
    thresholds = np.unique(calibrated)
    if len(thresholds) > CURVE_POINTS:
        picks = np.unique(np.linspace(0, len(thresholds) - 1, CURVE_POINTS).round().astype(int))
        thresholds = thresholds[picks]
    # Share: of the final calibrator, which is what serving will threshold.  Precision:
    # of the rows whose out-of-fold confidence reaches the threshold, never the rows
    # that fitted their own calibrator.  Both by sorted sweeps.
    decided = len(top) - np.searchsorted(np.sort(calibrated), thresholds, side="left")
    order = np.argsort(folded)
    ranked, hits = folded[order], correct[order]
    right_from = np.append(np.cumsum(hits[::-1])[::-1], 0.0)
    first = np.searchsorted(ranked, thresholds, side="left")
    reached = len(ranked) - first
    kept = reached > 0
    return Calibration(
        knots_x=tuple(float(x) for x in knots_x),
        knots_y=tuple(float(y) for y in knots_y),
        curve_threshold=tuple(float(t) for t in thresholds[kept]),
        curve_share=tuple(float(d / len(top)) for d in decided[kept]),
        curve_precision=tuple(
            float(right_from[f] / r) for f, r in zip(first[kept], reached[kept], strict=True)
        ),
        error_before=calibration_error(truth, probabilities, classes),
        error_after=confidence_calibration_error(folded, correct),
    )


def _conformal_quantile(residuals: Floats, coverage: float) -> float:
    """The split-conformal quantile: the ⌈(n+1)·coverage⌉-th smallest residual (the
    largest one when a bin is too small for that rank to exist)."""
    rank = min(math.ceil((len(residuals) + 1) * coverage), len(residuals))
    return float(np.partition(residuals, rank - 1)[rank - 1])


def _bin_edges(predicted: Floats, coverage: float) -> Floats:
    """Inner edges at quantiles of the predictions: up to ``MAX_BINS`` bins, each with
    enough rows for the conformal rank to exist (at least ``MIN_BIN_ROWS``)."""
    needed = max(MIN_BIN_ROWS, math.ceil(coverage / (1 - coverage)))
    bins = max(1, min(MAX_BINS, len(predicted) // needed))
    inner = np.quantile(predicted, np.arange(1, bins) / bins)
    return np.unique(inner)


def _half_widths(predicted: Floats, residuals: Floats, edges: Floats, coverage: float) -> Floats:
    which = np.searchsorted(edges, predicted, side="right")
    overall = _conformal_quantile(residuals, coverage)
    return np.array(
        [
            _conformal_quantile(residuals[which == b], coverage) if (which == b).any() else overall
            for b in range(len(edges) + 1)
        ]
    )


def _fit_conformal(
    truth: Floats, predicted: Floats, *, coverage: float, seed: int
) -> ConformalBins:
    from sklearn.model_selection import KFold

    residuals = np.abs(truth - predicted)
    covered = np.empty(len(truth), dtype=bool)
    for fit_rows, held_rows in KFold(FOLDS, shuffle=True, random_state=seed).split(truth):
        edges = _bin_edges(predicted[fit_rows], coverage)
        half = _half_widths(predicted[fit_rows], residuals[fit_rows], edges, coverage)
        held_bins = np.searchsorted(edges, predicted[held_rows], side="right")
        covered[held_rows] = residuals[held_rows] <= half[held_bins]
    edges = _bin_edges(predicted, coverage)
    half = _half_widths(predicted, residuals, edges, coverage)
    which = np.searchsorted(edges, predicted, side="right")
    counts = np.bincount(which, minlength=len(half))
    hits = np.bincount(which, weights=covered.astype(np.float64), minlength=len(half))
    return ConformalBins(
        coverage=coverage,
        edges=tuple(float(e) for e in edges),
        half_widths=tuple(float(h) for h in half),
        shares=tuple(float(c) / len(truth) for c in counts),
        coverages=tuple(float(h / c) if c else 1.0 for h, c in zip(hits, counts, strict=True)),
        empirical_coverage=float(covered.mean()),
    )


def _precision_plan(calibration: Calibration, target: float | None) -> AutomationPlan:
    if target is None:
        return AutomationPlan(threshold=None, expected_auto_share=0.0)
    best: int | None = None
    for index, precision in enumerate(calibration.curve_precision):
        if precision >= target and (
            best is None or calibration.curve_share[index] > calibration.curve_share[best]
        ):
            best = index
    if best is None:
        return AutomationPlan(threshold=None, expected_auto_share=0.0, target=target)
    return AutomationPlan(
        threshold=calibration.curve_threshold[best],
        expected_auto_share=calibration.curve_share[best],
        expected_precision=calibration.curve_precision[best],
        target=target,
    )


def _width_plan(conformal: ConformalBins, max_width: float | None) -> AutomationPlan:
    if max_width is None:
        return AutomationPlan(threshold=None, expected_auto_share=0.0)
    chosen = [b for b, half in enumerate(conformal.half_widths) if 2.0 * half <= max_width]
    share = sum(conformal.shares[b] for b in chosen)
    if share == 0:
        return AutomationPlan(threshold=None, expected_auto_share=0.0, target=max_width)
    covered = sum(conformal.shares[b] * conformal.coverages[b] for b in chosen)
    return AutomationPlan(
        threshold=max_width,
        expected_auto_share=share,
        expected_coverage=covered / share,
        target=max_width,
    )
