"""``PredictionLog``: the one front through which the server, the CLI and monitoring use the log.

It ties the parts together: ``spool`` (writing), ``compaction`` (spool files to
segments), ``segments`` and ``lines`` (reading both back), ``index`` and the metadata
store's id index (``find``) and ``feedback``.

``read`` and ``find`` look at the spool files first, then at the segments: a file
compacted in between is then seen twice (and de-duplicated by id) rather than not at all.
Spool files are local, so predictions of servers on other machines appear once compacted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.artifacts import ArtifactStore
from shipyard.errors import DataError
from shipyard.prediction_log.columns import empty_frame
from shipyard.prediction_log.compaction import CompactionResult, compact
from shipyard.prediction_log.feedback import checked_label, labels_frame, unknown_predictions
from shipyard.prediction_log.index import SpoolIndex
from shipyard.prediction_log.lines import encode, parse_lines, rows_frame
from shipyard.prediction_log.newest import newest_predictions
from shipyard.prediction_log.records import PredictionRecord
from shipyard.prediction_log.segments import read_segment
from shipyard.prediction_log.spool import CLAIM_BYTES, SpoolWriter, spool_contents, spool_entries
from shipyard.prediction_log.window import check_aware, parse_since, within
from shipyard.store.predictions import FeedbackRecord, PredictionRepository
from shipyard.store.records import SegmentRecord

__all__ = ["LABELLED_COLUMNS", "PredictionLog", "inputs_frame"]

LABELLED_COLUMNS = ("prediction_id", "label", "source", "received_at", "version")
"""The columns ``labelled_rows`` adds after a prediction's inputs."""


class PredictionLog:
    """The prediction log of one project: spool, compaction, reading and feedback.

    >>> log = project.prediction_log()  # doctest: +SKIP
    >>> log.append([record])  # doctest: +SKIP
    >>> log.read(model="ames", since="2h", limit=100)  # doctest: +SKIP
    """

    def __init__(
        self,
        records: PredictionRepository,
        artifacts: ArtifactStore,
        spool: Path,
        *,
        rotate_records: int = 10_000,
        rotate_seconds: float = 60.0,
        segment_rows: int = 200_000,
        segment_bytes: int = CLAIM_BYTES,
    ) -> None:
        self.records = records
        self.artifacts = artifacts
        self.spool = spool
        self.segment_rows = segment_rows
        self.segment_bytes = segment_bytes
        self._writer = SpoolWriter(
            spool, rotate_records=rotate_records, rotate_seconds=rotate_seconds
        )
        self._spool_index = SpoolIndex()

    @property
    def rotate_records(self) -> int:
        """A spool file is closed after this many records."""
        return self._writer.rotate_records

    @property
    def rotate_seconds(self) -> float:
        """A spool file is closed at the first append this many seconds after it opened."""
        return self._writer.rotate_seconds

    # -- writing --------------------------------------------------------------------

    def append(self, records: Iterable[PredictionRecord]) -> None:
        """Write predictions so that they survive this process being killed.

        All records are encoded before anything is written, and written with one
        ``os.write``: a record that cannot be encoded raises ``InvalidRequest`` and none
        of them is logged.
        """
        self._writer.append([encode(record) for record in records])

    def append_lines(self, lines: Sequence[bytes]) -> None:
        """Write lines made by ``prediction_lines`` with one ``os.write``."""
        self._writer.append(lines)

    def rotate(self, *, older_than: float = 0.0) -> bool:
        """Close the current spool file if it holds records written ``older_than`` s ago."""
        return self._writer.rotate(older_than=older_than)

    def close(self) -> None:
        """Close this process's spool file, which makes it compactable.

        Appending afterwards opens a new file.
        """
        self._writer.close()

    def compact(self) -> CompactionResult:
        """Move every closed spool file into Parquet segments; return what was moved."""
        return compact(
            self.spool,
            self.records,
            self.artifacts,
            segment_rows=self.segment_rows,
            segment_bytes=self.segment_bytes,
        )

    # -- reading --------------------------------------------------------------------

    def read(
        self,
        *,
        model: str | None = None,
        since: datetime | str | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        ids: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """Predictions with ``since <= timestamp < until``, newest first; given ``ids``,
        only those (the other rows of a segment are never decoded).

        ``since`` is a time with a zone or text for ``parse_since`` (``"2h"``,
        ``"2024-05-01T12:00Z"``).  Reads the spool files (running servers' too) and the
        segments that can hold such predictions.  ``inputs`` and ``probabilities`` are
        dicts, ``prediction`` the value the model returned; see ``inputs_frame`` for
        inputs as columns.
        """
        if isinstance(since, str):
            since = parse_since(since)
        check_aware(since, "since")
        check_aware(until, "until")
        if limit is not None and ids is None:
            return rows_frame(self.newest(model=model, since=since, until=until, limit=limit))
        rows = [
            row
            for name, data in spool_contents(self.spool)
            for row in parse_lines(data, name)
            if (model is None or row["model"] == model)
            and (ids is None or row["prediction_id"] in ids)
        ]
        frames = [within(rows_frame(rows), since, until)]
        wanted = None if ids is None else sorted(ids)
        for segment in self.records.segments(model=model, since=since, until=until):
            found = self._segment_frame(segment, since, until, ids=wanted)
            frames.append(within(found, since, until))
        frames = [frame for frame in frames if len(frame)]
        if not frames:
            return empty_frame()
        result = pd.concat(frames, ignore_index=True)
        result = result.sort_values("timestamp", ascending=False, kind="stable")
        result = result.drop_duplicates("prediction_id")
        if limit is not None:
            result = result.head(limit)
        return result.reset_index(drop=True)

    def newest(
        self,
        *,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
    ) -> list[dict[str, Any]]:
        """``read``'s newest ``limit`` predictions as dicts of plain values, without pandas
        (``newest_predictions``)."""
        check_aware(since, "since")
        check_aware(until, "until")
        return newest_predictions(
            self.spool,
            self.records.segments(model=model, since=since, until=until),
            self._segment_path,
            model=model,
            since=since,
            until=until,
            limit=limit,
        )

    def _segment_path(self, digest: str) -> Path:
        return self.artifacts.materialize(digest, "file")

    def _segment_frame(
        self,
        segment: SegmentRecord,
        since: datetime | None,
        until: datetime | None,
        *,
        ids: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        return read_segment(self._segment_path(segment.digest), since=since, until=until, ids=ids)

    def get(self, prediction_id: str) -> pd.DataFrame:
        """The prediction ``prediction_id`` as one row of ``read``'s columns, or no row.

        A compacted prediction is found through the id index and read from its segment
        alone, filtered by id (a lookup costs the same in a log of millions); a spooled
        one is read from the spool files.
        """
        compacted = self._compacted(prediction_id)
        if compacted is not None or not self.find([prediction_id]):
            return empty_frame() if compacted is None else compacted
        rows = [
            row
            for name, data in spool_contents(self.spool)
            for row in parse_lines(data, name)
            if row["prediction_id"] == prediction_id
        ]
        if rows:
            return rows_frame(rows[:1])
        # its spool file was compacted since we looked
        return self._compacted(prediction_id) or empty_frame()

    def _compacted(self, prediction_id: str) -> pd.DataFrame | None:
        segment = self.records.segment_of(prediction_id)
        if segment is None:
            return None
        path = self.artifacts.materialize(segment.digest, "file")
        return read_segment(path, ids=[prediction_id]).head(1)

    def find(self, prediction_ids: Iterable[str]) -> set[str]:
        """The ids among ``prediction_ids`` that are in the log (spooled or compacted)."""
        wanted = set(prediction_ids)
        found = self._spool_index.contains(spool_entries(self.spool), wanted)
        rest = wanted - found
        if rest:
            found |= self.records.known_ids(rest)
        return found

    # -- feedback -------------------------------------------------------------------

    def record_feedback(self, prediction_id: str, label: Any) -> FeedbackRecord:
        """Store the true label of a logged prediction; a later label replaces this one.

        Raises ``RecordNotFound`` when no prediction has this id.
        """
        return self.record_feedback_batch({prediction_id: label})[0]

    def record_feedback_batch(self, labels: Mapping[str, Any]) -> list[FeedbackRecord]:
        """Store several labels, all or none; unknown ids raise ``RecordNotFound``."""
        checked = {
            prediction_id: checked_label(prediction_id, label)
            for prediction_id, label in labels.items()
        }
        missing = sorted(set(checked) - self.find(checked))
        if missing:
            raise unknown_predictions(missing)
        return self.records.save_feedback(checked)

    def predictions_with_feedback(
        self, *, model: str | None = None, since: datetime | str | None = None
    ) -> pd.DataFrame:
        """Predictions that have a label, with ``label`` and ``received_at`` columns."""
        if isinstance(since, str):
            since = parse_since(since)
        # A label always arrives after its prediction, so `since` narrows feedback too;
        # only the labelled predictions are decoded.
        labels = self.labels(since=since)
        predictions = self.read(model=model, since=since, ids=set(labels["prediction_id"]))
        return predictions.merge(labels, on="prediction_id", how="inner")

    def labels(self, *, since: datetime | None = None) -> pd.DataFrame:
        """The labels received at or after ``since``: ``prediction_id``, ``label``,
        ``received_at``."""
        return labels_frame(self.records.feedback(since=since))

    def labelled_rows(self, model: str) -> pd.DataFrame:
        """Every labelled prediction of ``model`` as a training row, oldest first.

        One row per prediction (a relabelled one carries its latest label), shadow
        answers left out: their inputs as columns, then ``prediction_id``, ``label``,
        ``source`` (who gave the label: "api", or the review queue's "single", "agreed"
        or "adjudicated"), ``received_at`` and ``version`` (the model version that
        answered).  Reads the log once and joins the labels in pandas.

        >>> log.labelled_rows("ames")[["prediction_id", "label"]]  # doctest: +SKIP
        """
        stored = self.records.feedback()
        labels = labels_frame(stored)
        # FeedbackRecord.source arrives with the review store (branch reviewstore).
        labels["source"] = pd.Series(
            [f.source for f in stored],
            dtype="str",
            index=labels.index,
        )
        predictions = self.read(model=model)
        predictions = predictions[predictions["variant"] != "shadow"]
        joined = predictions.merge(labels, on="prediction_id", how="inner")
        joined = joined.sort_values("timestamp", kind="stable").reset_index(drop=True)
        inputs = inputs_frame(joined)
        clashing = sorted(set(inputs.columns) & set(LABELLED_COLUMNS))
        if clashing:
            raise DataError(
                f"model '{model}' has input columns named {clashing}, which labelled_rows "
                "uses for its own columns; rename them in the training data"
            )
        return pd.concat([inputs, joined[list(LABELLED_COLUMNS)]], axis=1)


def inputs_frame(predictions: pd.DataFrame) -> pd.DataFrame:
    """The ``inputs`` of ``read``'s predictions as one column per input, same index.

    >>> inputs_frame(log.read(model="ames"))["Lot_Area"].mean()  # doctest: +SKIP
    """
    return pd.DataFrame.from_records(list(predictions["inputs"]), index=predictions.index)
