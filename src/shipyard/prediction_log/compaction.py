"""Compaction: closed spool files become Parquet segments in the artifact store.

``compact`` claims the closed spool files (their lock can be taken), writes one segment
per model into the artifact store and registers, in one transaction, the segments, their
prediction ids and the names of the spool files they came from; then it deletes the spool
files.  A crash between two steps loses nothing (the spool files are deleted last) and
duplicates nothing (a spool file whose name is registered is deleted without being
compacted again; an unregistered Parquet file is merely garbage in the artifact store).
Several compactors over one folder are safe: each claims files by lock.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ServingError
from shipyard.prediction_log.lines import parse_lines
from shipyard.prediction_log.segments import write_segment
from shipyard.prediction_log.spool import CLAIM_BYTES, Claim, claim_closed
from shipyard.store.predictions import NewSegment, PredictionRepository
from shipyard.store.records import SegmentRecord, StoredOutput

__all__ = ["CompactionResult", "compact"]


@dataclass(frozen=True)
class CompactionResult:
    """What one ``compact`` call did."""

    files: int = 0
    predictions: int = 0
    segments: tuple[SegmentRecord, ...] = ()


def compact(
    spool: Path,
    records: PredictionRepository,
    artifacts: ArtifactStore,
    *,
    segment_rows: int,
    segment_bytes: int = CLAIM_BYTES,
) -> CompactionResult:
    """Move every closed spool file in ``spool`` into segments of about ``segment_rows``.

    A batch of spool files also stops before ``segment_bytes`` bytes of lines (unless it
    is one file), which bounds the compactor's memory when the inputs are wide.
    """
    files = predictions = 0
    segments: list[SegmentRecord] = []
    seen: set[str] = set()
    while batch := claim_closed(spool, skip=seen, lines=segment_rows, max_bytes=segment_bytes):
        try:
            found = _compact_batch(batch, records, artifacts)
        except (OSError, pa.ArrowException) as exc:
            raise ServingError(
                f"cannot compact the prediction log spool in {spool}: {exc}; "
                "the spool files are kept and compacted on the next attempt"
            ) from exc
        finally:
            for claim in batch:
                os.close(claim.fd)
        files += len(batch)
        predictions += sum(segment.rows for segment in found)
        segments.extend(found)
    return CompactionResult(files=files, predictions=predictions, segments=tuple(segments))


def _compact_batch(
    batch: list[Claim], records: PredictionRepository, artifacts: ArtifactStore
) -> list[SegmentRecord]:
    done = records.compacted_sources(claim.path.name for claim in batch)
    pending = [claim for claim in batch if claim.path.name not in done]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for claim in pending:
        for row in parse_lines(claim.data, claim.path.name, encoded=True):
            by_model.setdefault(row["model"], []).append(row)
        claim.data = b""  # read: the batch's peak memory is its rows, not rows and bytes
    segments: list[SegmentRecord] = []
    if by_model:
        with tempfile.TemporaryDirectory(prefix="shipyard-segment-") as folder:
            new = [
                _store_segment(artifacts, model, by_model[model], Path(folder) / f"{index}.parquet")
                for index, model in enumerate(sorted(by_model))
            ]
        segments = records.register_segments(new, sources=[claim.path.name for claim in pending])
    # Only now, with the segments committed, may the spool files go.
    for claim in batch:
        claim.path.unlink(missing_ok=True)
    return segments


def _store_segment(
    artifacts: ArtifactStore, model: str, rows: list[dict[str, Any]], path: Path
) -> NewSegment:
    write_segment(rows, path)
    blob = artifacts.put(path)
    times = [row["timestamp"] for row in rows]
    return NewSegment(
        artifact=StoredOutput(
            type_name="PredictionSegment",
            digest=blob.digest,
            kind=blob.kind,
            size=blob.size,
            uri=blob.uri,
        ),
        model=model,
        rows=len(rows),
        min_time=min(times),
        max_time=max(times),
        prediction_ids=frozenset(row["prediction_id"] for row in rows),
    )
