"""Which arm of a canary answers a request.

With a sticky key the choice is a pure function of the key (its CRC-32, read as a point
in [0, 100)), so every server process and replica sends one key to one arm, and a key on
the candidate at 5% stays there at 25%: raising the percent only adds keys.  Without a
key the choice is random.
"""

from __future__ import annotations

import random
import zlib

__all__ = ["key_point", "takes_candidate"]


def key_point(key: str) -> float:
    """Where ``key`` falls in [0, 100): the same on every process and machine.

    >>> key_point("customer-17") == key_point("customer-17")
    True
    """
    return (zlib.crc32(key.encode("utf-8", "surrogatepass")) % 10_000) / 100


def takes_candidate(percent: float, key: str | None = None) -> bool:
    """Whether the candidate answers: ``percent`` of keys (or of requests, if no key)."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    point = random.random() * 100 if key is None else key_point(key)
    return point < percent
