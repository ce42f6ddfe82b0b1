"""Transform and Trainer: learn the preprocessing, then the model, on the training split."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.components.ingestion import read_split, split_files, split_partitions, split_rows
from shipyard.components.types import (
    DataSchema,
    ExampleAnomalies,
    Examples,
    ModelPackageArtifact,
    TransformGraph,
    TuningReport,
)
from shipyard.config import Encoding, Impute, Scaling, Task
from shipyard.data.partitions import (
    DEFAULT_PARTITION_ROWS,
    Partition,
    map_partitions,
    read_partition,
    table_schema,
)
from shipyard.data.schema import Schema
from shipyard.errors import ConfigError, DataError
from shipyard.pipeline import (
    Component,
    Input,
    Output,
    log_metric,
    log_metrics,
    log_param,
    log_params,
)

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.data.transform import FittedTransform, TransformSpec, TransformSummary

    # scikit-learn comes with these: imported by the steps that fit, which a cached run
    # (and the building of a pipeline) never reaches.
    from shipyard.modeling.confidence import ConfidenceModel

__all__ = [
    "PACKAGE_MODULE",
    "Trainer",
    "Transform",
    "labelled_rows",
    "sampled_split",
    "target_values",
]

PACKAGE_MODULE = "shipyard.modeling.package"
"""Where model packages are written and read: importing it imports skops, which imports
every scikit-learn estimator to list them (seconds; see ``Component.imports``)."""


def sampled_split(folder: Path, split: str, *, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A split, or a uniform sample of ``max_rows`` of its rows when it has more (logged
    as ``<split>_sampled_from``): what training, tuning and evaluation read."""
    rows = split_rows(folder, split)
    if max_rows is not None and rows > max_rows:
        log_metric(f"{split}_sampled_from", rows)
    frame: pd.DataFrame = read_split(folder, split, max_rows=max_rows, seed=seed)
    return frame


def labelled_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows that have a value for ``target``; a missing target column is an error."""
    if target not in frame.columns:
        raise DataError(f"the target column '{target}' is not in the data")
    labelled = frame.loc[frame[target].notna()].reset_index(drop=True)
    if len(labelled) == 0:
        raise DataError(f"no row has a value for the target column '{target}'")
    return labelled


class Transform(Component):
    """Learns imputation, scaling and category encoding on the training split only.

    ``features`` (default: every column) minus ``drop`` and the target are the inputs.
    A training split of more than ``partition_rows`` rows is learned a partition at a
    time (on the cluster, with ``executor: dask``) from mergeable summaries; see
    ``TransformLearner.fit_summary``.  ``anomalies`` is there to order the step after
    validation: data that failed validation never reaches training.
    """

    examples: Input[Examples]
    schema: Input[DataSchema]
    anomalies: Input[ExampleAnomalies] | None = None
    transform: Output[TransformGraph]
    target: str
    features: list[str] | None = None
    drop: list[str] = []
    impute: Impute = "median"
    scaling: Scaling = "standard"
    encoding: Encoding = "onehot"
    max_categories: int = 50
    derive: str | None = None
    partition_rows: int = DEFAULT_PARTITION_ROWS

    def run(self) -> None:
        # The transform's modules read DataFrames: imported by the steps that fit.
        from shipyard.data.transform import TransformLearner, TransformSpec, TransformSummary

        names = table_schema(split_files(self.examples.path, "train")).names
        schema = Schema.from_yaml(self.schema.path.read_text())
        columns = self.features if self.features is not None else names
        unknown = [c for c in [*columns, *self.drop] if c not in names]
        if unknown:
            raise DataError(f"feature columns {unknown} are not in the data")
        if self.target not in names:
            raise DataError(f"the target column '{self.target}' is not in the data")
        excluded = set(self.drop) | {self.target}
        chosen = [c for c in columns if c not in excluded]
        if not chosen:
            raise DataError("no feature columns are left after dropping the target and 'drop'")
        numeric = [c for c in chosen if c in schema and schema.column(c).type in ("int", "float")]
        spec = TransformSpec(
            numeric=tuple(numeric),
            categorical=tuple(c for c in chosen if c not in numeric),
            drop=tuple(c for c in names if c not in chosen),
            impute=self.impute,
            scaling=self.scaling,
            encoding=self.encoding,
            max_categories=self.max_categories,
            derive=self.derive,
        )
        if split_rows(self.examples.path, "train") <= self.partition_rows:
            train = read_split(self.examples.path, "train")
            fitted = TransformLearner(spec).fit(labelled_rows(train, self.target))
        else:
            partitions = split_partitions(self.examples.path, "train", rows=self.partition_rows)
            summaries = map_partitions(summarise_partition, partitions, spec, self.target)
            labelled = [summary for summary in summaries if summary is not None]
            if not labelled:
                raise DataError(f"no row has a value for the target column '{self.target}'")
            merged = functools.reduce(TransformSummary.merge, labelled)
            fitted = TransformLearner(spec).fit_summary(merged)
            log_metric("partitions", len(partitions))
        self.transform.path.write_text(json.dumps(fitted.to_dict(), sort_keys=True))
        self.transform.properties.update(
            numeric=len(fitted.numeric_columns),
            categorical=len(fitted.categorical_columns),
            features=fitted.n_features,
        )


def summarise_partition(
    partition: Partition, spec: TransformSpec, target: str
) -> TransformSummary | None:
    """The transform's summary of a partition's labelled rows (None when it has none)."""
    from shipyard.data.transform import TransformLearner

    frame = read_partition(partition)
    labelled = frame.loc[frame[target].notna()]
    return TransformLearner(spec).summarise(labelled) if len(labelled) else None


def target_values(frame: pd.DataFrame, target: str, task: Task) -> np.ndarray[Any, Any]:
    """The target column as the estimator learns it: floats, or classes."""
    import pandas as pd

    values = frame[target]
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise DataError(
                f"the target column '{target}' is not numeric ({values.dtype}); set "
                "data.task: classification in shipyard.yaml to predict its categories"
            )
        return values.to_numpy(dtype=np.float64)
    if values.nunique() < 2:
        raise DataError(f"the target column '{target}' has a single class; nothing to learn")
    if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
        return values.astype(np.int64).to_numpy()
    return values.to_numpy(dtype=object if not pd.api.types.is_numeric_dtype(values) else None)


def _fit_confidence(
    eval_rows: pd.DataFrame,
    *,
    target: str,
    task: Task,
    estimator: Any,
    classes: list[Any] | None,
    fitted: FittedTransform,
    coverage: float,
    seed: int,
) -> ConfidenceModel | None:
    """The confidence model of the fitted estimator, from its answers on the eval split;
    None (every answer unsure) when too few eval rows are labelled to fit one."""
    from shipyard.modeling.confidence import MIN_EVAL_ROWS, fit_confidence

    labelled = eval_rows.loc[eval_rows[target].notna()]
    if len(labelled) < MIN_EVAL_ROWS:
        log_param(
            "confidence",
            f"none: the eval split has {len(labelled)} labelled rows, fewer than "
            f"{MIN_EVAL_ROWS}; every answer is unsure (raise data.split.eval_fraction)",
        )
        return None
    features = fitted.transform_frame(labelled)
    if task == "classification":
        probabilities = np.asarray(estimator.predict_proba(features), dtype=np.float64)
        assert classes is not None
        values = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
        confidence = fit_confidence(
            task,
            truth=labelled[target].to_numpy(dtype=object),
            values=values,
            probabilities=probabilities,
            classes=classes,
            seed=seed,
        )
    else:
        confidence = fit_confidence(
            task,
            truth=labelled[target].to_numpy(dtype=np.float64),
            values=np.asarray(estimator.predict(features), dtype=np.float64),
            probabilities=None,
            classes=None,
            coverage=coverage,
            seed=seed,
        )
    log_metrics(confidence.summary())
    return confidence


class Trainer(Component):
    """Fits an estimator with the scikit-learn API and packages it with its transform.

    With a ``tuning`` input (the Tuner's report), the best parameters it found override
    ``params``.  The package also holds a confidence model fitted on the eval split's answers
    (calibration for classifiers, conformal intervals holding ``coverage`` of the true
    values for regressors): what the automation levels decide with.
    """

    examples: Input[Examples]
    transform: Input[TransformGraph]
    schema: Input[DataSchema]
    tuning: Input[TuningReport] | None = None
    model: Output[ModelPackageArtifact]
    task: Task
    target: str
    estimator: str | None = None
    params: dict[str, Any] = {}
    seed: int = 0
    coverage: float = 0.9
    max_rows: int | None = None

    def imports(self, params: dict[str, Any]) -> tuple[str, ...]:
        from shipyard.modeling.estimators import estimator_path

        try:
            module = estimator_path(params.get("estimator"), task=params["task"])
        except (ConfigError, KeyError):  # the step's run names the problem
            return (PACKAGE_MODULE,)
        return (PACKAGE_MODULE, module.rpartition(".")[0] or PACKAGE_MODULE)

    def run(self) -> None:
        from shipyard.data.transform import FittedTransform
        from shipyard.modeling.estimators import build_estimator, encodes_labels, estimator_path
        from shipyard.modeling.package import write_package

        task = self.task
        train = labelled_rows(self._split("train"), self.target)
        fitted = FittedTransform.from_dict(json.loads(self.transform.path.read_text()))
        features = fitted.transform_frame(train)
        labels = target_values(train, self.target, task)
        path = estimator_path(self.estimator, task=task)
        params = dict(self.params)
        if self.tuning is not None:
            from shipyard.components.payloads import TuningPayload

            tuned = TuningPayload.read(self.tuning.path).result
            params.update(tuned.best_params)
            log_params({f"tuned.{key}": value for key, value in tuned.best_params.items()})
            log_param("tuned.trial", tuned.best_trial)
        estimator = build_estimator(path, task=task, params=params, seed=self.seed)
        log_param("estimator", path)
        log_params({f"model.{key}": value for key, value in params.items()})
        classes: list[Any] | None = None
        if task == "classification" and encodes_labels(estimator):
            # Fitted on class indices; the package maps them back to ``classes``.
            found, labels = np.unique(labels, return_inverse=True)
            classes = found.tolist()
        try:
            estimator.fit(features, labels)
        except Exception as exc:
            # LightGBM raises its own LightGBMError (not a ValueError) for bad parameters.
            library = type(exc).__module__.startswith(("lightgbm.", "xgboost."))
            if not (library or isinstance(exc, ValueError | TypeError)):
                raise
            raise DataError(f"{type(estimator).__name__} could not be fitted: {exc}") from exc
        if task == "classification" and classes is None:
            classes = list(estimator.classes_)
        log_metric("train_rows", len(train))
        confidence = _fit_confidence(
            self._split("eval"),
            target=self.target,
            task=task,
            estimator=estimator,
            classes=classes,
            fitted=fitted,
            coverage=self.coverage,
            seed=self.seed,
        )
        write_package(
            self.model.path,
            estimator=estimator,
            transform=fitted,
            schema=Schema.from_yaml(self.schema.path.read_text()),
            task=task,
            target=self.target,
            estimator_path=path,
            params=params,
            confidence=confidence,
            classes=classes,
        )
        self.model.properties.update(
            task=task, estimator=path, train_rows=len(train), confidence=confidence is not None
        )

    def _split(self, split: str) -> pd.DataFrame:
        return sampled_split(self.examples.path, split, max_rows=self.max_rows, seed=self.seed)
