"""The newest predictions as plain rows: what ``shipyard predictions`` and the dashboard
list.

The spool files are read first, then the segments newest first, stopping at the first
segment older than the newest ``limit`` found so far: the newest hundred of a long log
cost the spool files and a segment or two.  Rows are dicts of plain Python values keyed
by the log's column names, so nothing here needs pandas or the ORM, and pyarrow is
imported only when a segment must be read.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard.prediction_log.lines import parse_lines
from shipyard.prediction_log.spool import spool_contents
from shipyard.store.records import SegmentRecord

__all__ = ["newest_predictions"]


def newest_predictions(
    spool: Path,
    segments: Sequence[SegmentRecord],
    segment_path: Callable[[str], Path],
    *,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` predictions (all, given None) with ``since <= timestamp <
    until``, newest first, each once.

    ``segments`` are those that may hold such predictions of ``model``, newest first
    (``StoreReader.prediction_segments``); ``segment_path`` gives a segment's local file
    from its digest.  A spool file compacted while this reads is seen in both places and
    kept once.  ``since`` and ``until`` have a zone (``window.check_aware``).
    """
    if limit is not None and limit <= 0:
        return []
    rows = [
        row
        for name, data in spool_contents(spool)
        for row in parse_lines(data, name)
        if (model is None or row["model"] == model)
        and (since is None or row["timestamp"] >= since)
        and (until is None or row["timestamp"] < until)
    ]
    for segment in segments:
        if limit is not None and _newest_cutoff(rows, limit) > segment.max_time:
            break  # every later segment is older than the newest `limit` found
        # Imported here: pyarrow takes longer to import than the spool takes to read.
        from shipyard.prediction_log.segments import segment_rows

        rows += segment_rows(segment_path(segment.digest), since=since, until=until, newest=limit)
    rows.sort(key=lambda row: row["timestamp"], reverse=True)
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["prediction_id"] not in seen:
            seen.add(row["prediction_id"])
            unique.append(row)
            if len(unique) == limit:
                break
    return unique


def _newest_cutoff(rows: list[dict[str, Any]], limit: int) -> datetime:
    """The ``limit``-th newest time among ``rows``, or the dawn of time if fewer."""
    if len(rows) < limit:
        return datetime.min.replace(tzinfo=UTC)
    cutoff: datetime = heapq.nlargest(limit, (row["timestamp"] for row in rows))[-1]
    return cutoff
