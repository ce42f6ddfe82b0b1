"""The model package: everything needed to serve a model, in one folder artifact.

::

    manifest.json    task, target, input columns, classes, estimator, trusted types
    transform.json   the fitted transform (plain JSON)
    schema.yaml      the data schema the model was trained against
    model.skops      the fitted estimator, in skops format
    confidence.json  optional: what the answers' confidence means (calibration or
                     conformal intervals, see ``shipyard.modeling.confidence``); packages
                     written before it existed, or on too small an eval split, have none

Loading never runs arbitrary code: the estimator file is read with skops, trusting only
the types recorded when it was written, and only when they come from the libraries that
fit models: anything of scikit-learn, NumPy and SciPy, and of LightGBM and XGBoost only
their scikit-learn estimators and their boosters (``shipyard.modeling.manifest``), which
skops keeps in the library's own format (LightGBM's model text, XGBoost's serialized
booster) and hands back to the library to read.  Trainer, Evaluator, batch prediction and the server
all predict through ``ModelPackage``: one code path.

A classifier that learns from class indices (XGBoost's) is fitted on the position of
each label in ``classes`` and predicts positions: the manifest's ``classes`` hold the
labels, and ``extra["estimator_classes"]`` is ``"indices"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import skops.io as sio

from shipyard.config import Task
from shipyard.data.schema import Schema
from shipyard.data.transform import FittedTransform, TransformStats
from shipyard.errors import ArtifactError, DataError
from shipyard.modeling.compiled import MAX_BATCH_ROWS, CompiledPredictor, compile_estimator
from shipyard.modeling.confidence import ConfidenceModel
from shipyard.modeling.manifest import PackageManifest, read_manifest, refused_types

__all__ = ["ModelPackage", "PackageManifest", "Predictions", "write_package"]

TRANSFORM = "transform.json"
SCHEMA = "schema.yaml"
ESTIMATOR = "model.skops"
CONFIDENCE = "confidence.json"


@dataclass(frozen=True)
class Predictions:
    """Predicted values (numbers, or class labels) and, for classifiers, probabilities."""

    values: list[Any]
    probabilities: npt.NDArray[np.float64] | None
    classes: list[Any] | None

    @cached_property
    def probability_maps(self) -> list[dict[str, float]] | None:
        """Per row, ``{class label as text: probability}`` (built once, on first use)."""
        if self.probabilities is None or self.classes is None:
            return None
        labels = [str(label) for label in self.classes]
        return [dict(zip(labels, row.tolist(), strict=True)) for row in self.probabilities]

    def rows(self, begin: int, end: int) -> Predictions:
        """The predictions of rows ``begin`` to ``end`` (probability maps built once)."""
        part = Predictions(
            values=self.values[begin:end],
            probabilities=None if self.probabilities is None else self.probabilities[begin:end],
            classes=self.classes,
        )
        maps = self.__dict__.get("probability_maps")  # where cached_property keeps it
        if maps is not None:
            part.__dict__["probability_maps"] = maps[begin:end]
        return part


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def write_package(
    folder: Path,
    *,
    estimator: Any,
    transform: FittedTransform,
    schema: Schema,
    task: Task,
    target: str,
    estimator_path: str,
    params: Mapping[str, Any],
    confidence: ConfidenceModel | None = None,
    classes: Sequence[Any] | None = None,
) -> PackageManifest:
    """Write a fitted estimator, its transform and schema, and, when there is one, its
    confidence model as a package folder.

    ``classes`` are a classifier's labels when it was fitted on their indices (its own
    ``classes_`` are then 0 .. k-1); by default they are its ``classes_``.
    """
    if confidence is not None and confidence.task != task:
        raise DataError(f"the confidence model is for a {confidence.task} model, not {task}")
    own = getattr(estimator, "classes_", None)
    extra: dict[str, Any] = {}
    if classes is not None and own is not None:
        own = [_python(c) for c in own]
        if own == list(range(len(classes))) and own != [_python(c) for c in classes]:
            extra["estimator_classes"] = "indices"
        elif own != [_python(c) for c in classes]:
            raise DataError(f"the classes {list(classes)} are not the estimator's {own}")
    labels = classes if classes is not None else own
    folder.mkdir(parents=True, exist_ok=False)
    sio.dump(estimator, folder / ESTIMATOR)
    untrusted = sorted(sio.get_untrusted_types(file=folder / ESTIMATOR))
    refused = refused_types(untrusted)
    if refused:
        raise ArtifactError(
            f"the estimator holds types shipyard will not trust when loading: {refused}"
        )
    manifest = PackageManifest(
        task=task,
        target=target,
        input_columns=list(transform.input_columns),
        classes=None if labels is None else [_python(c) for c in labels],
        estimator=estimator_path,
        params=dict(params),
        trusted_types=untrusted,
        extra=extra,
    )
    manifest.write(folder)
    (folder / TRANSFORM).write_text(json.dumps(transform.to_dict(), sort_keys=True))
    (folder / SCHEMA).write_text(schema.to_yaml())
    if confidence is not None:
        (folder / CONFIDENCE).write_text(json.dumps(confidence.to_dict(), sort_keys=True))
    return manifest


def _read_confidence(folder: Path, task: Task) -> ConfidenceModel | None:
    path = folder / CONFIDENCE
    if not path.exists():
        return None
    try:
        confidence = ConfidenceModel.from_dict(json.loads(path.read_text()))
        if confidence.task != task:
            raise ArtifactError(f"it is for a {confidence.task} model, not {task}")
        return confidence
    except (OSError, ValueError, ArtifactError) as exc:
        raise ArtifactError(
            f"cannot load the model package in {folder}: {CONFIDENCE} is unreadable ({exc}); "
            "retrain the model to write it again"
        ) from exc


def _load_estimator(path: Path, trusted: list[str]) -> Any:
    """The estimator in ``path``, read with skops trusting ``trusted`` only."""
    try:
        return sio.load(path, trusted=trusted)
    except (OSError, ValueError, TypeError, KeyError):
        raise
    except Exception as exc:
        # LightGBM and XGBoost read their boosters natively and raise their own errors
        # (LightGBMError, XGBoostError) on a damaged model; skops its own on a type
        # outside ``trusted``.
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


class ModelPackage:
    """A loaded model package, ready to predict on frames or on request rows.

    The estimator is compiled when it can be (see ``shipyard.modeling.compiled``), on
    the first batch of at most ``MAX_BATCH_ROWS`` rows or the first look at ``compiled``:
    ``predictor`` then answers such batches instead of the estimator, with the same
    numbers, and a process that only predicts large batches never compiles.
    ``confidence`` is None when the package has no confidence model: no answer is then
    confident.
    """

    def __init__(
        self,
        manifest: PackageManifest,
        transform: FittedTransform,
        schema: Schema,
        estimator: Any,
        *,
        confidence: ConfidenceModel | None = None,
    ) -> None:
        self.manifest = manifest
        self.transform = transform
        self.schema = schema
        self.estimator = estimator
        self.confidence = confidence

    @classmethod
    def load(cls, folder: Path) -> ModelPackage:
        """Read a package folder; a damaged or foreign package is a clear error."""
        try:
            manifest = read_manifest(folder)
            transform = FittedTransform.from_dict(json.loads((folder / TRANSFORM).read_text()))
            schema = Schema.from_yaml((folder / SCHEMA).read_text())
            estimator = _load_estimator(folder / ESTIMATOR, manifest.trusted_types)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ArtifactError(f"cannot load the model package in {folder}: {exc}") from exc
        confidence = _read_confidence(folder, manifest.task)
        return cls(manifest, transform, schema, estimator, confidence=confidence)

    @cached_property
    def predictor(self) -> CompiledPredictor | None:
        """The compiled estimator, made on first use; None when it does not compile."""
        return compile_estimator(self.estimator)

    @property
    def task(self) -> Task:
        return self.manifest.task

    @property
    def classes(self) -> list[Any] | None:
        return self.manifest.classes

    @property
    def input_columns(self) -> list[str]:
        return self.manifest.input_columns

    @property
    def compiled(self) -> bool:
        """Whether a compiled predictor, not the estimator, answers (small batches)."""
        return self.predictor is not None

    def predict_features(
        self, features: npt.NDArray[np.float64], *, compiled: bool = True
    ) -> Predictions:
        """Predict from transformed features (the transform's output).

        ``compiled=False`` asks the estimator itself, whose answers the compiled predictor
        reproduces bit for bit: a process that predicts one batch (an evaluation) would
        spend more on compiling than on predicting.
        """
        model = self.estimator
        if compiled and len(features) <= MAX_BATCH_ROWS and self.predictor is not None:
            model = self.predictor
        if self.task == "classification":
            probabilities = np.asarray(model.predict_proba(features), dtype=np.float64)
            assert self.classes is not None
            labels = np.asarray(self.classes, dtype=object)[probabilities.argmax(axis=1)]
            return Predictions(
                values=[_python(v) for v in labels],
                probabilities=probabilities,
                classes=self.classes,
            )
        values = np.asarray(model.predict(features), dtype=np.float64)
        return Predictions(values=values.tolist(), probabilities=None, classes=None)

    def predict_frame(
        self, frame: pd.DataFrame, *, stats: TransformStats | None = None, compiled: bool = True
    ) -> Predictions:
        """Predict for every row of a DataFrame (extra columns are ignored); ``compiled``
        as for ``predict_features``."""
        features = self.transform.transform_frame(frame, stats=stats)
        return self.predict_features(features, compiled=compiled)

    def predict_rows(
        self, rows: Sequence[Mapping[str, Any]], *, stats: TransformStats | None = None
    ) -> Predictions:
        """Predict for request rows (column -> JSON value) without building a DataFrame."""
        return self.predict_features(self.transform.transform_rows(rows, stats=stats))
