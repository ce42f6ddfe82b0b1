"""ExampleGen: ingest a CSV or Parquet source as a dataset version, split in two.

With labelled predictions (a Parquet file of ``shipyard.data.feedback_rows``), their
rows join the training split only: the evaluation split stays the source's, so a model
trained on feedback is evaluated on the same rows as the one before it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.artifacts import file_digest
from shipyard.components.payloads import ExamplesPayload
from shipyard.components.types import Examples
from shipyard.data.ingest import read_table, source_digest, split_frame
from shipyard.errors import DataError
from shipyard.pipeline import Component, Output, PublishContext, log_metric
from shipyard.store import ArtifactRecord, MetadataStore
from shipyard.store.datasets import DATASETS_PROPERTY
from shipyard.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    # pandas and pyarrow are imported by what reads or writes the splits: building the
    # standard pipeline, and a fully cached run of it, never does.
    import pandas as pd

__all__ = ["ExampleGen", "read_split", "source_version"]

TRAIN = "train.parquet"
EVAL = "eval.parquet"
FEEDBACK = "feedback.parquet"
FEEDBACK_SUFFIX = "-feedback"
"""Labelled predictions of dataset ``NAME`` are dataset ``NAME-feedback``."""
FEEDBACK_SOURCE = "prediction log"


def source_version(store: MetadataStore, examples: ArtifactRecord) -> DatasetVersionRecord | None:
    """The version of the source dataset ``examples`` were made from, if ExampleGen made
    them (feedback rows are a version of their own; see ``ExamplesPayload``)."""
    if "source_digest" not in examples.properties:
        return None
    payload = ExamplesPayload.from_properties(examples.properties)
    return store.datasets.find(payload.dataset, payload.source_digest)


def read_split(folder: Path, split: str) -> Any:
    """The ``train`` or ``eval`` split of an ``Examples`` artifact as a DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(folder / (TRAIN if split == "train" else EVAL)).to_pandas()


class ExampleGen(Component):
    """Reads a table (file or folder), registers its version, splits train/eval.

    The version is the sha256 of the source's bytes: ingesting identical data again is a
    cache hit and stores nothing new.  ``source_digest`` may be given by a caller that has
    already hashed the source; otherwise it is computed.

    ``feedback`` is a Parquet file of labelled predictions (``feedback_rows``), kept in
    the artifact as ``feedback.parquet`` with their prediction ids, and registered as a
    version of dataset ``NAME-feedback``; its ``feedback_digest`` is computed when not
    given.  New labels are a new digest, so the step and those after it run again.
    """

    examples: Output[Examples]
    source: str
    name: str
    eval_fraction: float = 0.2
    seed: int = 42
    key: str | None = None
    source_digest: str | None = None
    feedback: str | None = None
    feedback_digest: str | None = None

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        extras = {}
        if not params.get("source_digest"):
            extras["source"] = source_digest(Path(params["source"]))
        if params.get("feedback") and not params.get("feedback_digest"):
            extras["feedback"] = file_digest(Path(params["feedback"]))
        return extras

    def run(self) -> None:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        from shipyard.data.feedback import LABEL_SOURCE

        source = Path(self.source)
        digest = self.source_digest or source_digest(source)
        frame = read_table(source)
        train, evaluation = split_frame(
            frame, eval_fraction=self.eval_fraction, seed=self.seed, key=self.key
        )
        self.examples.path.mkdir()
        payload = ExamplesPayload(
            dataset=self.name,
            source=str(source),
            source_digest=digest,
            rows=len(frame),
            columns=len(frame.columns),
            train_rows=len(train),
            eval_rows=len(evaluation),
        )
        if self.feedback is not None:
            feedback = Path(self.feedback)
            rows = _feedback_rows(feedback, list(frame.columns))
            train = pd.concat([train, rows[frame.columns]], ignore_index=True)
            shutil.copyfile(feedback, self.examples.path / FEEDBACK)
            counts = rows[LABEL_SOURCE].value_counts()
            payload = replace(
                payload,
                train_rows=len(train),
                feedback_dataset=self.name + FEEDBACK_SUFFIX,
                feedback_digest=self.feedback_digest or file_digest(feedback),
                feedback_rows=len(rows),
                feedback_sources={str(k): int(counts[k]) for k in sorted(counts.index)},
            )
            log_metric("feedback_rows", len(rows))
        for name, part in ((TRAIN, train), (EVAL, evaluation)):
            table = pa.Table.from_pandas(part, preserve_index=False)
            pq.write_table(table, self.examples.path / name)
        self.examples.properties.update(payload.to_properties())
        log_metric("rows", len(frame))

    def publish(self, context: PublishContext) -> None:
        examples = context.outputs["examples"]
        payload = ExamplesPayload.from_properties(examples.properties)
        versions = [
            context.store.datasets.register(
                name,
                digest=digest,
                source=payload.source if name == payload.dataset else FEEDBACK_SOURCE,
                rows=payload.rows if name == payload.dataset else payload.feedback_rows,
                columns=payload.columns,
                examples_id=examples.id,
                run_id=context.run.id,
            )
            for name, digest in payload.dataset_versions()
        ]
        # Lineage shows them beside the examples, even when an earlier run registered
        # them (the same source with other labels, or the same labels with another source).
        context.store.set_properties(
            "artifact", examples.id, {DATASETS_PROPERTY: [version.id for version in versions]}
        )


def _feedback_rows(path: Path, columns: list[str]) -> pd.DataFrame:
    """The labelled predictions in ``path``, which must have the source's ``columns``."""
    import pyarrow.parquet as pq

    from shipyard.data.feedback import LABEL_SOURCE

    rows: pd.DataFrame = pq.read_table(path).to_pandas()
    missing = sorted({*columns, LABEL_SOURCE} - set(rows.columns))
    if missing:
        raise DataError(
            f"feedback file {path} lacks columns {missing}; make it with "
            "shipyard.data.feedback_rows from this source"
        )
    return rows
