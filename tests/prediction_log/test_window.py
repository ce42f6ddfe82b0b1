"""The time window of a read: ``since`` as a time or an age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from shipyard import InvalidRequest
from shipyard.prediction_log import parse_since
from shipyard.prediction_log.window import check_aware, within

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30s", timedelta(seconds=30)),
        ("90m", timedelta(minutes=90)),
        (" 2 h ", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1.5w", timedelta(weeks=1.5)),
    ],
)
def test_an_age_counts_back_from_now(text: str, age: timedelta) -> None:
    assert parse_since(text, now=NOW) == NOW - age


def test_an_iso_time_keeps_its_zone_and_a_naive_one_is_local_time() -> None:
    assert parse_since("2024-05-01T10:00Z") == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    local = datetime(2024, 5, 1, 10, 0).astimezone()
    assert parse_since("2024-05-01T10:00") == local
    assert parse_since("2024-05-01T10:00").tzinfo == UTC


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-3d", "2024-13-01", ""])
def test_other_text_is_refused_with_both_forms_named(text: str) -> None:
    with pytest.raises(InvalidRequest, match="neither an ISO time .* nor an age") as caught:
        parse_since(text)
    assert caught.value.field == "since"


def test_naive_datetimes_are_refused() -> None:
    check_aware(NOW, "since")
    check_aware(None, "since")
    with pytest.raises(ValueError, match="'until' is a naive datetime"):
        check_aware(datetime(2024, 5, 1), "until")


def test_within_keeps_since_and_drops_until() -> None:
    times = pd.Series([NOW + timedelta(minutes=n) for n in range(4)], dtype="datetime64[us, UTC]")
    frame = pd.DataFrame({"timestamp": times, "n": range(4)})
    kept = within(frame, NOW + timedelta(minutes=1), NOW + timedelta(minutes=3))
    assert list(kept["n"]) == [1, 2]
    assert len(within(frame, None, None)) == 4
