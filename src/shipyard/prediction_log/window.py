"""The time window of a read: ``since`` as a time or an age, and rows inside the window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shipyard.errors import InvalidRequest

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_aware", "parse_duration", "parse_since", "within"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, *, field: str = "interval") -> float:
    """Seconds in a duration like ``30s``, ``5m``, ``2h``, ``7d``, ``1.5w`` or ``90``.

    >>> parse_duration("5m")
    300.0
    """
    age = _AGE.match(text)
    if age:
        return timedelta(**{_UNITS[age.group(2)]: float(age.group(1))}).total_seconds()
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(
            f"'{text}' is not a duration (30s, 5m, 2h, 7d, or seconds)", field=field
        ) from None


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A time from ``2024-05-01T12:00``, ``2024-05-01T10:00Z`` or an age like ``90m``.

    Ages count back from ``now`` (default: the current time) in seconds, minutes, hours,
    days or weeks: ``30s``, ``90m``, ``2h``, ``7d``, ``1.5w``.  A time without a zone is
    local time.  Text that is neither raises ``InvalidRequest``.

    >>> parse_since("2h", now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
    """
    if _AGE.match(text):
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(text))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(
            f"'{text}' is neither an ISO time (2024-05-01T12:00, 2024-05-01T10:00Z) nor an "
            "age (30m, 2h, 7d)",
            field="since",
        ) from None
    return value.astimezone(UTC)  # a naive time is taken as local time


def check_aware(value: datetime | None, name: str) -> None:
    """Refuse a naive ``value``: compared with stored UTC times it would shift silently."""
    if value is not None and value.tzinfo is None:
        raise ValueError(f"'{name}' is a naive datetime; give one with a time zone (UTC)")


def within(frame: pd.DataFrame, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    """The rows of ``frame`` with ``since <= timestamp < until``."""
    if since is not None:
        frame = frame[frame["timestamp"] >= since]
    if until is not None:
        frame = frame[frame["timestamp"] < until]
    return frame
