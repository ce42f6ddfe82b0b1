"""Exact, fast predictions for fitted scikit-learn models: the server's per-row model call.

scikit-learn's ``predict`` validates its input on every call, and histogram gradient
boosting starts a parallel loop per tree: close to a millisecond for one row.
``compile_estimator`` reads a fitted model once and returns a ``CompiledPredictor`` that
gives the same numbers, bit for bit, in tens of microseconds; or ``None`` when it cannot
promise that, and the caller keeps calling the estimator.

>>> from sklearn.ensemble import HistGradientBoostingRegressor
>>> X = np.arange(40.0).reshape(20, 2)
>>> model = HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=2).fit(X, X[:, 0])
>>> predictor = compile_estimator(model)
>>> np.array_equal(predictor.predict(X), model.predict(X))
True

Compiled (anything else returns ``None``):

- ``HistGradientBoostingRegressor`` (every loss) and ``HistGradientBoostingClassifier``
  with numeric splits; a model with categorical splits is left to scikit-learn.
- ``LinearRegression``, ``Ridge`` and ``LogisticRegression`` with a single target: the
  same matrix product scikit-learn computes, without its input checks.
- LightGBM's ``LGBMRegressor``/``LGBMClassifier`` and XGBoost's ``XGBRegressor``/
  ``XGBClassifier`` (tree boosters, built-in objectives, not stopped early): not
  compiled but answered by the library's own booster, without its scikit-learn
  wrapper, whose per-call checks and thread set-up cost LightGBM milliseconds a row.

How the boosted trees stay exact:

- Splits: a value goes left when ``x <= threshold``, NaN goes where the node learned.
  Every node tests a column of the row doubled, ``[x, x with NaN as -inf]``: a node whose
  NaNs go left reads the second half, where ``-inf <= threshold`` always holds.
- Leaves: every tree is one table of nodes, walked in native code a level at a time over
  all the rows of the batch (``shipyard.modeling.trees``).
- Sums: scikit-learn starts from ``0 + baseline`` and adds the trees of each iteration in
  order, in float64; the walk adds the leaves' values in that order too.
- Link: a regressor uses its loss's own inverse link; a classifier's probabilities repeat
  scikit-learn's ``expit`` and ``softmax``, on raw scores laid out in memory (Fortran
  order) as its own, since the order of the sums in ``softmax`` follows the layout.
- Every compiled model is checked against the estimator on probe rows (each threshold
  exactly, its neighbours, NaN, infinities), as a batch and one row at a time, before it
  is returned.

The private attributes read here (``_predictors``, ``_baseline_prediction``, ``_loss``,
``_preprocessor``) are those of the scikit-learn releases in ``TESTED_SKLEARN``, the range
pyproject.toml pins.  When a release lays them out otherwise, the estimator predicts
itself, loudly: a warning in the log and ``shipyard_compiled_fallbacks_total`` in the
server's metrics; an answer is never computed from a misread model.

Large batches are still faster in scikit-learn, whose loop runs in parallel threads:
``ModelPackage`` asks the compiled model for batches up to ``MAX_BATCH_ROWS`` rows.

One module, longer than most: reading an estimator's fitted internals, the evaluators and
the checks that decide when to fall back to scikit-learn are one promise (exact answers)
and are reviewed together whenever scikit-learn changes.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sklearn
from prometheus_client import Counter
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from shipyard.errors import DataError, SchemaMismatch, ShipyardError

__all__ = [
    "FALLBACKS",
    "MAX_BATCH_ROWS",
    "TESTED_SKLEARN",
    "CompiledPredictor",
    "compile_estimator",
]

logger = logging.getLogger(__name__)

# The scikit-learn releases whose private attributes this module reads, as pinned in
# pyproject.toml; outside them a changed attribute makes the estimator predict itself.
TESTED_SKLEARN = ">=1.4,<1.10"
# Estimators that should have compiled but predict themselves: ``reason`` is "layout"
# (the fitted attributes changed) or "difference" (the compiled answers were not exact).
# Not in any registry: the server's metrics registry takes it (multiprocess: its files).
FALLBACKS = Counter(
    "shipyard_compiled_fallbacks",
    "Estimators predicting with scikit-learn because their compiled form was refused.",
    ["estimator", "reason"],
    registry=None,
)

Floats = npt.NDArray[np.float64]

MAX_BATCH_ROWS = 512  # rows beyond which scikit-learn's parallel loop may win
_PROBE_ROWS = 64


class CompiledPredictor(ABC):
    """Predicts like the fitted estimator it was compiled from, bit for bit.

    ``predict`` gives values (regression) or class labels; ``predict_proba`` gives class
    probabilities in the order of ``classes``; ``decision_function`` gives the raw scores.
    Features are a float64 array of shape ``(rows, n_features)``, as ``FittedTransform``
    produces.  A predictor holds no mutable state: threads may share it.
    """

    def __init__(self, *, n_features: int, classes: npt.NDArray[Any] | None) -> None:
        self.n_features = n_features
        self.classes = classes

    def __repr__(self) -> str:
        kind = "regressor" if self.classes is None else f"{len(self.classes)}-class classifier"
        return f"{type(self).__name__}({kind}, {self.n_features} features)"

    @abstractmethod
    def predict(self, features: npt.ArrayLike) -> npt.NDArray[Any]:
        """Predicted values, or class labels for a classifier."""

    def predict_proba(self, features: npt.ArrayLike) -> Floats:
        """Class probabilities, one column per class in ``classes``."""
        raise TypeError(f"{self!r} is a regressor; it has no class probabilities")

    @abstractmethod
    def decision_function(self, features: npt.ArrayLike) -> Floats:
        """Raw scores (before the link function), shaped as the estimator gives them."""

    @abstractmethod
    def probe_rows(self) -> Floats:
        """Feature rows that exercise the model's decisions, to check it against."""

    def _check(self, features: npt.ArrayLike) -> Floats:
        array = np.asarray(features, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.n_features:
            raise SchemaMismatch(
                f"the model expects rows of {self.n_features} features, "
                f"got an array of shape {array.shape}"
            )
        return array


def compile_estimator(
    estimator: Any, *, probes: npt.ArrayLike | None = None
) -> CompiledPredictor | None:
    """A ``CompiledPredictor`` for ``estimator``, or ``None`` when it cannot be exact.

    The result is compared with ``estimator`` on ``probe_rows()``, and on ``probes``
    (more feature rows) when given, as a batch and row by row; any difference in any bit
    gives ``None``, and a logged warning.
    """
    name = type(estimator).__name__
    try:
        predictor = _compile(estimator)
    except _LayoutChanged as reason:
        _fall_back(name, "layout", str(reason))
        return None
    except _Unsupported as reason:
        logger.info("%s is not compiled (%s); it predicts itself", name, reason)
        return None
    try:
        rows = predictor.probe_rows()
        if probes is not None:
            rows = np.concatenate([rows, predictor._check(probes)])
        difference = _first_difference(predictor, estimator, rows)
    except (ShipyardError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        difference = f"the probe rows raised {exc!r}"
    if difference is not None:
        _fall_back(name, "difference", f"it differs from the estimator: {difference}")
        return None
    return predictor


class _Unsupported(Exception):
    """The estimator, or a part of it, is outside what compiles exactly."""


class _LayoutChanged(_Unsupported):
    """The fitted state of an estimator that compiles is not laid out as expected: most
    likely a scikit-learn release outside the tested range changed its private attributes."""


def _fall_back(name: str, reason: str, why: str) -> None:
    """Say loudly that an estimator which should compile predicts itself."""
    FALLBACKS.labels(name, reason).inc()
    logger.warning(
        "the compiled %s is not used (%s; scikit-learn %s): it predicts with scikit-learn's "
        "own predict, exact but slower. shipyard is tested with scikit-learn %s; install a "
        "version in that range, or report the difference",
        name, why, sklearn.__version__, TESTED_SKLEARN,
    )  # fmt: skip


def _compile(estimator: Any) -> CompiledPredictor:
    kind = type(estimator)  # exactly these classes: a subclass may predict otherwise
    if not hasattr(estimator, "n_features_in_"):
        raise _Unsupported("it is not a fitted scikit-learn estimator")
    try:
        if f"{kind.__module__}.{kind.__qualname__}" in _NATIVE:
            return _NativeBooster.from_estimator(estimator)
        if kind is HistGradientBoostingRegressor or kind is HistGradientBoostingClassifier:
            return _BoostedTrees.from_estimator(estimator)
        if kind is LinearRegression or kind is Ridge:
            return _LinearRegressor.from_estimator(estimator)
        if kind is LogisticRegression:
            return _LogisticRegressor.from_estimator(estimator)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        # The fitted attributes are not laid out as this scikit-learn version's are.
        raise _LayoutChanged(f"unexpected fitted state: {exc!r}") from exc
    raise _Unsupported(f"{kind.__module__}.{kind.__qualname__} has no compiled form")


# -- the check against the estimator ---------------------------------------------------


def _same(ours: npt.NDArray[Any], theirs: Any) -> bool:
    expected: npt.NDArray[Any] = np.asarray(theirs)
    if ours.shape != expected.shape or ours.dtype != expected.dtype:
        return False
    if ours.dtype.kind in "fc":  # bit for bit: tells 0.0 from -0.0
        return ours.tobytes() == expected.tobytes()
    return bool(np.array_equal(ours, expected))


def _reference(estimator: Any, method: str) -> Callable[[Any], Any] | None:
    """The estimator's method that ``method`` of a compiled predictor reproduces."""
    if method == "decision_function" and not hasattr(estimator, method):
        # A boosted regressor's raw scores; a linear regressor's are its predictions.
        return getattr(estimator, "_raw_predict", None)
    found: Callable[[Any], Any] | None = getattr(estimator, method, None)
    return found


def _first_difference(predictor: CompiledPredictor, estimator: Any, rows: Floats) -> str | None:
    """What first differs between the predictor and the estimator on ``rows``, if any."""
    asked: Any = rows
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:  # fitted on a frame: ask it with the same column names
        asked = pd.DataFrame(rows, columns=names)
    methods = ["predict", "decision_function"]
    if predictor.classes is not None:
        methods.append("predict_proba")
    for method in methods:
        ours: Callable[[Floats], npt.NDArray[Any]] = getattr(predictor, method)
        theirs = _reference(estimator, method)
        if theirs is None:
            continue
        if not _same(ours(rows), theirs(asked)):
            return f"{method} on {len(rows)} probe rows"
        for i in sorted({0, 1, 2, 3, len(rows) - 1} & set(range(len(rows)))):
            # One row at a time, as the server asks: numpy may take other paths.
            if not _same(ours(rows[i : i + 1]), theirs(asked[i : i + 1])):
                return f"{method} on probe row {i}"
    return None


# -- histogram gradient boosting -------------------------------------------------------


@dataclass(frozen=True)
class _Forest:
    """Every tree of a boosted model as one table of nodes (see ``shipyard.modeling.trees``).

    Trees come iteration by iteration, each adding to the output ``output[tree]``, which
    keeps scikit-learn's order of the sums per output.
    """

    column: npt.NDArray[np.intp]  # (nodes,) column of the doubled row a node tests
    threshold: Floats  # (nodes,)
    children: npt.NDArray[np.intp]  # (nodes, 2) where a row goes: if the test holds, if not
    values: Floats  # (nodes,) a leaf's value (an internal node's is never read)
    roots: npt.NDArray[np.intp]  # (trees,)
    depths: npt.NDArray[np.intp]  # (trees,) the deepest leaf's depth
    output: npt.NDArray[np.intp]  # (trees,)
    start: Floats  # (outputs,) 0 + the baseline, where scikit-learn's sums start
    thresholds_by_column: dict[int, Floats]  # for probe rows


def _depth(leaf: list[bool], left: list[int], right: list[int]) -> int:
    """The depth of a tree's deepest leaf; refuses nodes that do not form a tree."""
    n = len(leaf)
    seen = [False] * n
    level, depth = [0], 0
    while True:
        for i in level:
            if not 0 <= i < n or seen[i]:
                raise _LayoutChanged("a tree's nodes do not form a tree")
            seen[i] = True
        level = [child for i in level if not leaf[i] for child in (left[i], right[i])]
        if not level:
            return depth
        depth += 1


def _forest(trees: list[tuple[int, npt.NDArray[Any]]], start: Floats, n_features: int) -> _Forest:
    """The table of ``trees``: (output, ``TreePredictor.nodes`` record array) each."""
    parts: dict[str, list[Any]] = {
        name: [] for name in ("column", "threshold", "children", "values", "roots", "depths")
    }
    splits: dict[int, list[Floats]] = {}  # thresholds by column, for probe rows
    size = 0
    for _, nodes in trees:
        n = len(nodes)
        if n == 0:
            raise _LayoutChanged("a tree has no nodes")
        if nodes["value"].dtype != np.float64:
            raise _LayoutChanged("leaf values are not float64")
        leaf = nodes["is_leaf"].astype(bool)
        internal = ~leaf
        if nodes["is_categorical"][internal].any():
            raise _Unsupported("the model has categorical splits")
        features = nodes["feature_idx"].astype(np.intp)
        if ((features[internal] < 0) | (features[internal] >= n_features)).any():
            raise _LayoutChanged("a split reads a column the model does not have")
        if np.isnan(nodes["num_threshold"][internal]).any():
            raise _LayoutChanged("a split has a NaN threshold")
        for feature in np.unique(features[internal]).tolist():
            tested = internal & (features == feature)
            splits.setdefault(feature, []).append(nodes["num_threshold"][tested])
        left, right = nodes["left"].astype(np.intp), nodes["right"].astype(np.intp)
        parts["depths"].append(_depth(leaf.tolist(), left.tolist(), right.tolist()))
        # A split whose NaNs go left reads the second half of the doubled row, where NaN
        # is -inf; a leaf tests the second half against +inf, which always holds, and
        # leads to itself.
        missing_left = nodes["missing_go_to_left"].astype(bool)
        parts["column"].append(np.where(leaf | missing_left, features + n_features, features))
        parts["threshold"].append(np.where(leaf, np.inf, nodes["num_threshold"]))
        itself = np.arange(size, size + n, dtype=np.intp)
        children = np.column_stack([left + size, right + size])
        parts["children"].append(np.where(leaf[:, None], itself[:, None], children))
        parts["values"].append(nodes["value"])
        parts["roots"].append(size)
        size += n
    return _Forest(
        column=np.concatenate(parts["column"]).astype(np.intp),
        threshold=np.concatenate(parts["threshold"]).astype(np.float64),
        children=np.ascontiguousarray(np.concatenate(parts["children"]), dtype=np.intp),
        values=np.concatenate(parts["values"]).astype(np.float64),
        roots=np.array(parts["roots"], dtype=np.intp),
        depths=np.array(parts["depths"], dtype=np.intp),
        output=np.array([k for k, _ in trees], dtype=np.intp),
        start=start,
        thresholds_by_column={c: np.unique(np.concatenate(t)) for c, t in splits.items()},
    )


class _BoostedTrees(CompiledPredictor):
    """A fitted ``HistGradientBoostingRegressor`` or ``...Classifier``."""

    def __init__(
        self,
        *,
        forest: _Forest,
        outputs: int,
        inverse_link: Callable[[Floats], Floats] | None,
        classes: npt.NDArray[Any] | None,
        n_features: int,
    ) -> None:
        super().__init__(n_features=n_features, classes=classes)
        self.forest = forest
        self.outputs = outputs
        self.inverse_link = inverse_link
        from shipyard.modeling.trees import walk  # numba: loaded once a boosted model compiles

        self._walk = walk

    @classmethod
    def from_estimator(cls, estimator: Any) -> _BoostedTrees:
        if getattr(estimator, "_preprocessor", None) is not None:
            raise _Unsupported("the model encodes categorical features itself")
        n_features = int(estimator.n_features_in_)
        outputs = int(estimator.n_trees_per_iteration_)
        baseline = np.asarray(estimator._baseline_prediction)
        if baseline.dtype != np.float64 or baseline.shape != (1, outputs):
            raise _LayoutChanged("the baseline prediction is not float64 of one row")
        iterations = estimator._predictors
        if any(len(trees) != outputs for trees in iterations):
            raise _LayoutChanged("an iteration does not have one tree per output")
        if not iterations:
            raise _Unsupported("the model has no trees")
        # scikit-learn starts from zeros and adds the baseline (0.0 + b is not b when b
        # is -0.0), then each iteration's tree, in order.
        start = np.zeros(outputs, dtype=np.float64) + baseline[0]
        trees = [(k, tree.nodes) for iteration in iterations for k, tree in enumerate(iteration)]
        forest = _forest(trees, start, n_features)
        loss, link = type(estimator._loss).__name__, type(estimator._loss.link).__name__
        classes = None
        inverse_link = None
        if isinstance(estimator, HistGradientBoostingClassifier):
            classes = np.asarray(estimator.classes_)
            binary = (loss, link) == ("HalfBinomialLoss", "LogitLink") and outputs == 1
            multi = (loss, link) == ("HalfMultinomialLoss", "MultinomialLogit")
            if not (binary or multi) or len(classes) != max(2, outputs):
                raise _LayoutChanged(f"{loss} with {len(classes)} classes is not a loss it knows")
        elif link in ("IdentityLink", "LogLink"):
            # scikit-learn's own function, given the same array as predict gives it.
            inverse_link = estimator._loss.link.inverse
        else:
            raise _LayoutChanged(f"the link {link} is not one it knows")
        return cls(
            forest=forest,
            outputs=outputs,
            inverse_link=inverse_link,
            classes=classes,
            n_features=n_features,
        )

    def _raw(self, features: Floats) -> Floats:
        """Raw scores (rows, outputs), laid out in memory as scikit-learn's (Fortran)."""
        n_rows, width = features.shape
        doubled = np.empty((n_rows, 2 * width), dtype=np.float64)
        doubled[:, :width] = features
        np.fmax(features, -np.inf, out=doubled[:, width:])  # NaN becomes -inf
        forest = self.forest
        raw = np.empty((n_rows, self.outputs), dtype=np.float64, order="F")
        raw[:] = forest.start
        self._walk(
            doubled,
            forest.column,
            forest.threshold,
            forest.children,
            forest.values,
            forest.roots,
            forest.depths,
            forest.output,
            raw,
        )
        return raw

    def decision_function(self, features: npt.ArrayLike) -> Floats:
        """Raw scores: (rows, outputs) for a regressor, as ``estimator._raw_predict``;
        (rows,) or (rows, classes) for a classifier, as ``decision_function``."""
        raw = self._raw(self._check(features))
        if self.classes is not None and raw.shape[1] == 1:
            return raw.ravel()
        return raw

    def predict(self, features: npt.ArrayLike) -> npt.NDArray[Any]:
        raw = self._raw(self._check(features))
        if self.inverse_link is not None:
            return self.inverse_link(raw.ravel())
        assert self.classes is not None
        # As HistGradientBoostingClassifier.predict: "> 0", so a tie goes to class 0.
        encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        labels: npt.NDArray[Any] = self.classes[encoded]
        return labels

    def predict_proba(self, features: npt.ArrayLike) -> Floats:
        if self.classes is None:
            return super().predict_proba(features)
        raw = self._raw(self._check(features))
        if raw.shape[1] == 1:  # HalfBinomialLoss.predict_proba
            proba = np.empty((raw.shape[0], 2), dtype=raw.dtype)
            proba[:, 1] = expit(raw.ravel())
            proba[:, 0] = 1 - proba[:, 1]
            return proba
        return _softmax(np.array(raw, copy=True))  # softmax(raw), which copies

    def probe_rows(self) -> Floats:
        """Rows whose values sit on, just below and just above the split thresholds."""
        rng = np.random.default_rng(0)
        rows = np.zeros((_PROBE_ROWS, self.n_features), dtype=np.float64)
        rows[1], rows[2], rows[3] = np.nan, np.inf, -np.inf
        for column, thresholds in self.forest.thresholds_by_column.items():
            finite = thresholds[np.isfinite(thresholds)]
            candidates = np.concatenate(
                [finite, np.nextafter(finite, -np.inf), np.nextafter(finite, np.inf), [np.nan]]
            )
            rows[4:, column] = rng.choice(candidates, size=_PROBE_ROWS - 4)
        return rows


def _softmax(scores: Floats) -> Floats:
    """``sklearn.utils.extmath.softmax`` in place; reductions follow ``scores``' layout."""
    scores -= scores.max(axis=1).reshape(-1, 1)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1).reshape(-1, 1)
    return scores


# -- linear models ---------------------------------------------------------------------


def _linear_parameters(estimator: Any) -> tuple[Floats, Any]:
    coef = estimator.coef_
    intercept = estimator.intercept_
    if not isinstance(coef, np.ndarray) or coef.dtype != np.float64:
        raise _Unsupported("the coefficients are not a dense float64 array")
    if isinstance(intercept, np.ndarray) and intercept.dtype != np.float64:
        raise _Unsupported("the intercept is not float64")
    return coef, intercept


def _finite(features: Floats) -> Floats:
    # scikit-learn refuses NaN and infinity for linear models; so do we.
    if not np.isfinite(features).all():
        raise DataError("the features hold NaN or infinity, which a linear model cannot use")
    return features


def _random_probes(n_features: int) -> Floats:
    rng = np.random.default_rng(0)
    rows = rng.normal(scale=3.0, size=(_PROBE_ROWS, n_features))
    rows[0] = 0.0
    return rows


class _LinearRegressor(CompiledPredictor):
    """A fitted ``LinearRegression`` or ``Ridge`` with one target."""

    def __init__(self, *, coef: Floats, intercept: Any, n_features: int) -> None:
        super().__init__(n_features=n_features, classes=None)
        self.coef = coef
        self.intercept = intercept

    @classmethod
    def from_estimator(cls, estimator: Any) -> _LinearRegressor:
        coef, intercept = _linear_parameters(estimator)
        if coef.ndim != 1:
            raise _Unsupported("the model has several targets")
        return cls(coef=coef, intercept=intercept, n_features=int(estimator.n_features_in_))

    def decision_function(self, features: npt.ArrayLike) -> Floats:
        """The predictions: a linear regressor's raw scores are its values."""
        return self.predict(features)

    def predict(self, features: npt.ArrayLike) -> Floats:
        # LinearModel._decision_function, for a one-dimensional coef_.
        result: Floats = _finite(self._check(features)) @ self.coef + self.intercept
        return result

    def probe_rows(self) -> Floats:
        return _random_probes(self.n_features)


class _LogisticRegressor(CompiledPredictor):
    """A fitted ``LogisticRegression``."""

    def __init__(
        self, *, coef: Floats, intercept: Any, classes: npt.NDArray[Any], n_features: int
    ) -> None:
        super().__init__(n_features=n_features, classes=classes)
        self.coef_t = coef.T
        self.intercept = intercept

    @classmethod
    def from_estimator(cls, estimator: Any) -> _LogisticRegressor:
        coef, intercept = _linear_parameters(estimator)
        classes = np.asarray(estimator.classes_)
        outputs = 1 if len(classes) == 2 else len(classes)
        if coef.shape != (outputs, estimator.n_features_in_):
            raise _LayoutChanged("the coefficients do not have one row per output")
        return cls(
            coef=coef,
            intercept=intercept,
            classes=classes,
            n_features=int(estimator.n_features_in_),
        )

    def decision_function(self, features: npt.ArrayLike) -> Floats:
        # LinearClassifierMixin.decision_function on a dense array.
        scores: Floats = _finite(self._check(features)) @ self.coef_t + self.intercept
        return scores.reshape(-1) if scores.shape[1] == 1 else scores

    def predict(self, features: npt.ArrayLike) -> npt.NDArray[Any]:
        assert self.classes is not None
        scores = self.decision_function(features)
        encoded = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        labels: npt.NDArray[Any] = self.classes.take(encoded, axis=0)
        return labels

    def predict_proba(self, features: npt.ArrayLike) -> Floats:
        scores = self.decision_function(features)
        if scores.ndim == 1:  # LinearClassifierMixin._predict_proba_lr
            expit(scores, out=scores)
            return np.stack([1 - scores, scores], axis=1)
        return _softmax(scores)

    def probe_rows(self) -> Floats:
        return _random_probes(self.n_features)


# -- LightGBM and XGBoost: their own boosters, without the scikit-learn wrapper ---------

_NATIVE = {
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBClassifier",
}


class _NativeBooster(CompiledPredictor):
    """A fitted LightGBM or XGBoost estimator, answered by its own booster.

    The numbers are the library's: its wrapper's ``predict`` checks the input, sets the
    threads (LightGBM rebuilds its predictor for that: milliseconds per call) and calls
    the booster; this calls the booster the same way, and adds the wrapper's few steps
    after it (the probability of class 0 for a binary classifier, the label chosen).
    """

    def __init__(
        self,
        *,
        values: Callable[[Floats], npt.NDArray[Any]],
        margins: Callable[[Floats], npt.NDArray[Any]],
        library: str,
        classes: npt.NDArray[Any] | None,
        n_features: int,
    ) -> None:
        super().__init__(n_features=n_features, classes=classes)
        self.values = values
        self.margins = margins
        self.library = library

    @classmethod
    def from_estimator(cls, estimator: Any) -> _NativeBooster:
        library = type(estimator).__module__.partition(".")[0]
        classes = np.asarray(estimator.classes_) if hasattr(estimator, "predict_proba") else None
        n_features = int(estimator.n_features_in_)
        if library == "lightgbm":
            if callable(estimator.objective):
                raise _Unsupported("the model has a custom objective")
            booster = estimator.booster_

            def values(features: Floats) -> npt.NDArray[Any]:
                found: npt.NDArray[Any] = booster.predict(features)
                return found

            def margins(features: Floats) -> npt.NDArray[Any]:
                found: npt.NDArray[Any] = booster.predict(features, raw_score=True)
                return found

        else:
            objective = estimator.objective
            if classes is not None and objective not in ("binary:logistic", "multi:softprob"):
                raise _Unsupported(f"the objective {objective!r} has no probabilities")
            if callable(objective) or estimator.booster not in (None, "gbtree"):
                raise _Unsupported("the model is not a tree booster with a built-in objective")
            booster = estimator.get_booster()
            if booster.attr("best_iteration") is not None:
                raise _Unsupported("the model was stopped early")
            missing = estimator.missing

            def values(features: Floats) -> npt.NDArray[Any]:
                found: npt.NDArray[Any] = booster.inplace_predict(
                    features, predict_type="value", missing=missing, iteration_range=(0, 0)
                )
                return found

            def margins(features: Floats) -> npt.NDArray[Any]:
                found: npt.NDArray[Any] = booster.inplace_predict(
                    features, predict_type="margin", missing=missing, iteration_range=(0, 0)
                )
                return found

        return cls(
            values=values,
            margins=margins,
            library=library,
            classes=classes,
            n_features=n_features,
        )

    def decision_function(self, features: npt.ArrayLike) -> Floats:
        """Raw scores, as the booster gives them with ``raw_score`` or ``margin``."""
        found: Floats = self.margins(self._check(features))
        return found

    def predict(self, features: npt.ArrayLike) -> npt.NDArray[Any]:
        if self.classes is None:
            return self.values(self._check(features))
        if self.library == "lightgbm":  # LGBMClassifier.predict: argmax of the probabilities
            labels: npt.NDArray[Any] = self.classes[self.predict_proba(features).argmax(axis=1)]
            return labels
        probabilities = self.values(self._check(features))
        if probabilities.ndim > 1:  # XGBClassifier.predict: the class index itself
            chosen: npt.NDArray[Any] = np.argmax(probabilities, axis=1)
            return chosen
        indexes = np.repeat(0, probabilities.shape[0])
        indexes[probabilities > 0.5] = 1
        return indexes

    def predict_proba(self, features: npt.ArrayLike) -> Floats:
        if self.classes is None:
            return super().predict_proba(features)
        found = self.values(self._check(features))
        if found.ndim > 1:
            return found
        # Both wrappers' binary case, in the dtype the booster gave (float32 for XGBoost).
        both: Floats = np.vstack((1.0 - found, found)).transpose()
        return both

    def probe_rows(self) -> Floats:
        rows = _random_probes(self.n_features)
        rows[1], rows[2], rows[3] = np.nan, np.inf, -np.inf
        return rows
