"""Counts of the values a transform had to repair, for monitoring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["TransformStats", "add_stats"]


@dataclass
class TransformStats:
    """Per-column counts of values the transform had to repair, for monitoring.

    Pass one to ``transform_rows`` or ``transform_frame`` and they add to it, only when
    the whole call succeeds.  ``unseen`` counts categories outside the vocabulary (never
    seen in training, or too rare to be kept); ``missing`` counts imputed values.
    """

    rows: int = 0
    missing: Counter[str] = field(default_factory=Counter)
    unseen: Counter[str] = field(default_factory=Counter)


def add_stats(
    stats: TransformStats, rows: int, missing: Mapping[str, int], unseen: Mapping[str, int]
) -> None:
    """Add one call's counts (columns with none are left out)."""
    stats.rows += rows
    stats.missing.update({c: n for c, n in missing.items() if n})
    stats.unseen.update({c: n for c, n in unseen.items() if n})
