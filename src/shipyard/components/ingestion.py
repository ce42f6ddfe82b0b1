"""ExampleGen: ingest a CSV or Parquet source as a dataset version, split in two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.components.payloads import ExamplesPayload
from shipyard.components.types import Examples
from shipyard.data.ingest import read_table, source_digest, split_frame
from shipyard.pipeline import Component, Output, PublishContext, log_metric

__all__ = ["ExampleGen", "read_split"]

TRAIN = "train.parquet"
EVAL = "eval.parquet"


def read_split(folder: Path, split: str) -> Any:
    """The ``train`` or ``eval`` split of an ``Examples`` artifact as a DataFrame."""
    return pq.read_table(folder / (TRAIN if split == "train" else EVAL)).to_pandas()


class ExampleGen(Component):
    """Reads a table (file or folder), registers its version, splits train/eval.

    The version is the sha256 of the source's bytes: ingesting identical data again is a
    cache hit and stores nothing new.  ``source_digest`` may be given by a caller that has
    already hashed the source; otherwise it is computed.
    """

    examples: Output[Examples]
    source: str
    name: str
    eval_fraction: float = 0.2
    seed: int = 42
    key: str | None = None
    source_digest: str | None = None

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        if params.get("source_digest"):
            return {}
        return {"source": source_digest(Path(params["source"]))}

    def run(self) -> None:
        source = Path(self.source)
        digest = self.source_digest or source_digest(source)
        frame = read_table(source)
        train, evaluation = split_frame(
            frame, eval_fraction=self.eval_fraction, seed=self.seed, key=self.key
        )
        self.examples.path.mkdir()
        for name, part in ((TRAIN, train), (EVAL, evaluation)):
            table = pa.Table.from_pandas(part, preserve_index=False)
            pq.write_table(table, self.examples.path / name)
        payload = ExamplesPayload(
            dataset=self.name,
            source=str(source),
            source_digest=digest,
            rows=len(frame),
            columns=len(frame.columns),
            train_rows=len(train),
            eval_rows=len(evaluation),
        )
        self.examples.properties.update(payload.to_properties())
        log_metric("rows", len(frame))

    def publish(self, context: PublishContext) -> None:
        examples = context.outputs["examples"]
        payload = ExamplesPayload.from_properties(examples.properties)
        context.store.datasets.register(
            payload.dataset,
            digest=payload.source_digest,
            source=payload.source,
            rows=payload.rows,
            columns=payload.columns,
            examples_id=examples.id,
            run_id=context.run.id,
        )
