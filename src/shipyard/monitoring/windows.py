"""Cutting a version's predictions into windows: by time or by count.

A window by time (``1h``) is aligned on multiples of its length since the Unix epoch, so
that every version's windows share their bounds and a day of hourly windows is 24 known
intervals; it is cut once it has closed.  A window by count (``5000``) holds the next
5000 predictions of its version in time order, extended to every prediction with the same
timestamp as its last one, so that windows are always intervals ``[start, end)`` of time
and never split one instant.  A partial window waits for more predictions.

>>> spec = WindowSpec.parse("1h")
>>> spec.seconds, spec.count
(3600.0, None)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shipyard.errors import ConfigError
from shipyard.prediction_log import parse_duration

__all__ = ["Cut", "WindowSpec", "cut_windows"]

_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class WindowSpec:
    """A window size: ``seconds`` for windows by time, ``count`` for windows by count."""

    text: str
    seconds: float | None
    count: int | None

    @classmethod
    def parse(cls, text: str) -> WindowSpec:
        text = text.strip()
        if text.isdigit():
            return cls(text=text, seconds=None, count=int(text))
        seconds = parse_duration(text, field="monitoring.window")
        if seconds < 1:
            raise ConfigError(f"a monitoring window lasts at least a second; got '{text}'")
        return cls(text=text, seconds=seconds, count=None)

    def closed_before(self, now: datetime, *, lateness: float) -> datetime:
        """The end of the last window by time that has closed ``lateness`` s before now."""
        assert self.seconds is not None
        elapsed = (now - timedelta(seconds=lateness) - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=math.floor(elapsed / self.seconds) * self.seconds)


@dataclass(frozen=True)
class Cut:
    """One window's rows of one version (``rows`` share their version)."""

    version: int
    start: datetime
    end: datetime
    rows: pd.DataFrame


def cut_windows(
    predictions: pd.DataFrame,
    spec: WindowSpec,
    *,
    until: datetime | None,
) -> tuple[list[Cut], dict[int, datetime]]:
    """The complete windows of ``predictions`` (one version or many), oldest first, and
    for windows by count the start of each version's incomplete window.

    ``until`` bounds windows by time (the end of the last closed one); windows by count
    take every prediction given.
    """
    cuts: list[Cut] = []
    pending: dict[int, datetime] = {}
    ordered = predictions.sort_values(["timestamp", "prediction_id"], kind="stable")
    versions = ordered["version"].to_numpy()
    for version in sorted({int(v) for v in versions}):
        rows = ordered[versions == version]
        if spec.seconds is not None:
            cuts.extend(_by_time(version, rows, spec.seconds, until))
        else:
            assert spec.count is not None
            complete, rest = _by_count(version, rows, spec.count)
            cuts.extend(complete)
            if rest is not None:
                pending[version] = rest
    cuts.sort(key=lambda cut: (cut.end, cut.version))
    return cuts, pending


def _by_time(
    version: int, rows: pd.DataFrame, seconds: float, until: datetime | None
) -> Iterator[Cut]:
    if until is not None:
        rows = rows[rows["timestamp"] < until]
    if rows.empty:
        return
    elapsed = (rows["timestamp"] - _EPOCH).dt.total_seconds().to_numpy()
    starts = (elapsed // seconds) * seconds
    for start_seconds in np.unique(starts):
        start = _EPOCH + timedelta(seconds=float(start_seconds))
        yield Cut(version, start, start + timedelta(seconds=seconds), rows[starts == start_seconds])


def _by_count(version: int, rows: pd.DataFrame, count: int) -> tuple[list[Cut], datetime | None]:
    cuts = []
    times = rows["timestamp"]
    position = 0
    while len(rows) - position >= count:
        last = times.iloc[position + count - 1]
        # Every prediction of the last one's instant joins: windows are time intervals.
        stop = position + count
        while stop < len(rows) and times.iloc[stop] == last:
            stop += 1
        window = rows.iloc[position:stop]
        start = times.iloc[position].to_pydatetime()
        cuts.append(Cut(version, start, last.to_pydatetime() + _MICROSECOND, window))
        position = stop
    rest = None if position >= len(rows) else times.iloc[position].to_pydatetime()
    return cuts, rest
