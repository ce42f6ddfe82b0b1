"""Lineage of a prediction: from one answer back to the data its model learned from.

A logged prediction names its model and version; the registry links that version to
the pipeline run that made it, the dataset version it was trained on and the code
version; the metadata store holds the steps between the dataset and the model package.
``trace_prediction`` follows those links and returns them as one typed record.

>>> lineage = project.prediction_lineage("3f9a0c...")  # doctest: +SKIP
>>> lineage.model_version.ref, lineage.dataset_version.digest  # doctest: +SKIP
('ames:1', '5e1d...')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import ModelNotFound, RecordNotFound
from shipyard.store.lineage import LineageGraph, upstream
from shipyard.store.records import DatasetVersionRecord, ModelVersionRecord, RunRecord

if TYPE_CHECKING:
    from shipyard.prediction_log import PredictionLog, PredictionRecord
    from shipyard.registry import ModelRegistry
    from shipyard.store import MetadataStore

__all__ = ["PredictionLineage", "find_prediction", "trace_prediction"]


@dataclass(frozen=True)
class PredictionLineage:
    """A prediction and everything it came from, nearest first.

    ``graph`` is the upstream lineage of the model version's package: the steps and
    artifacts between the dataset version and the model.  ``run`` and
    ``dataset_version`` are ``None`` for a version registered by hand without them.
    """

    prediction: PredictionRecord
    model_version: ModelVersionRecord
    run: RunRecord | None
    dataset_version: DatasetVersionRecord | None
    graph: LineageGraph

    @property
    def code_version(self) -> str | None:
        """The git commit the model was trained from, when the run was in a checkout."""
        if self.model_version.code_version is not None:
            return self.model_version.code_version
        return None if self.run is None else self.run.code_version


def find_prediction(log: PredictionLog, prediction_id: str) -> PredictionRecord:
    """The logged prediction ``prediction_id``, spooled or compacted (``PredictionLog.get``)."""
    from shipyard.prediction_log import PredictionRecord

    rows = log.get(prediction_id).to_dict("records")
    if not rows:
        raise RecordNotFound(
            f"prediction '{prediction_id}' is not in the prediction log; give an id that "
            "POST /predict returned (`shipyard predictions` lists them)"
        )
    row = rows[0]
    return PredictionRecord(
        prediction_id=row["prediction_id"],
        model=row["model"],
        version=int(row["version"]),
        inputs=row["inputs"],
        prediction=row["prediction"],
        latency_ms=float(row["latency_ms"]),
        probabilities=row["probabilities"],
        variant=row["variant"],
        timestamp=row["timestamp"].to_pydatetime(),
    )


def trace_prediction(
    prediction: PredictionRecord, *, store: MetadataStore, registry: ModelRegistry
) -> PredictionLineage:
    """Follow a logged prediction to its model version, run, dataset version and steps."""
    from shipyard.registry.references import ModelRef

    try:
        version = registry.resolve(ModelRef(prediction.model, None, prediction.version))
    except ModelNotFound as exc:
        raise ModelNotFound(
            f"prediction '{prediction.prediction_id}' was answered by "
            f"{prediction.model}:{prediction.version}, which this project's registry does "
            f"not hold ({exc})"
        ) from exc
    run = None if version.run_id is None else store.get_run(version.run_id)
    dataset = (
        None
        if version.dataset_version_id is None
        else store.datasets.get(version.dataset_version_id)
    )
    return PredictionLineage(
        prediction=prediction,
        model_version=version,
        run=run,
        dataset_version=dataset,
        graph=upstream(store.reader, version.package),
    )
