"""Cutting predictions into windows by time and by count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from shipyard.errors import ConfigError, InvalidRequest
from shipyard.monitoring.windows import WindowSpec, cut_windows

BASE = datetime(2026, 5, 1, 10, tzinfo=UTC)


def predictions(seconds: list[float], versions: list[int] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i:04d}" for i in range(len(seconds))],
            "timestamp": pd.Series([BASE + timedelta(seconds=s) for s in seconds]).astype(
                "datetime64[us, UTC]"
            ),
            "version": versions or [1] * len(seconds),
        }
    )


def test_specs_parse_durations_and_counts() -> None:
    assert WindowSpec.parse("1h") == WindowSpec("1h", 3600.0, None)
    assert WindowSpec.parse("5000") == WindowSpec("5000", None, 5000)
    with pytest.raises(InvalidRequest, match="not a duration"):
        WindowSpec.parse("1x")
    with pytest.raises(ConfigError, match="at least a second"):
        WindowSpec.parse("0.5s")


def test_windows_by_time_are_aligned_and_only_closed_ones_are_cut() -> None:
    spec = WindowSpec.parse("1h")
    now = BASE + timedelta(hours=2, minutes=10)
    until = spec.closed_before(now, lateness=0)
    assert until == BASE + timedelta(hours=2)
    assert spec.closed_before(now, lateness=15 * 60) == BASE + timedelta(hours=1)
    rows = predictions([0, 1800, 3599.9, 3600, 7000, 7300], versions=[1, 1, 2, 1, 1, 1])
    cuts, pending = cut_windows(rows, spec, until=until)
    assert pending == {}
    found = [(c.version, c.start, c.end, list(c.rows["prediction_id"])) for c in cuts]
    assert found == [
        (1, BASE, BASE + timedelta(hours=1), ["p0000", "p0001"]),
        (2, BASE, BASE + timedelta(hours=1), ["p0002"]),
        (1, BASE + timedelta(hours=1), BASE + timedelta(hours=2), ["p0003", "p0004"]),
    ]  # p0005 is in the open window


def test_windows_by_count_never_split_an_instant() -> None:
    spec = WindowSpec.parse("3")
    rows = predictions([0, 1, 2, 2, 5, 6, 7, 8])
    cuts, pending = cut_windows(rows, spec, until=None)
    assert [list(c.rows["prediction_id"]) for c in cuts] == [
        ["p0000", "p0001", "p0002", "p0003"],  # the fourth shares the third's instant
        ["p0004", "p0005", "p0006"],
    ]
    assert cuts[0].end == BASE + timedelta(seconds=2, microseconds=1)
    assert cuts[1].start == BASE + timedelta(seconds=5)
    assert pending == {1: BASE + timedelta(seconds=8)}


def test_windows_by_count_are_per_version() -> None:
    rows = predictions([0, 1, 2, 3, 4], versions=[1, 2, 1, 2, 2])
    cuts, pending = cut_windows(rows, WindowSpec.parse("2"), until=None)
    assert [(c.version, list(c.rows["prediction_id"])) for c in cuts] == [
        (1, ["p0000", "p0002"]),
        (2, ["p0001", "p0003"]),
    ]
    assert pending == {2: BASE + timedelta(seconds=4)}
