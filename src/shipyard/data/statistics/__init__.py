"""Mergeable dataset statistics.

Statistics are computed chunk by chunk and merged: counts and moments exactly (Chan's
parallel formula for mean and variance), quantiles, frequent values and distinct counts
through Apache DataSketches.  Two results computed on different partitions merge into the
statistics of their union, so the same code runs in process or partitioned over a cluster.

>>> import pandas as pd
>>> stats = compute_statistics(pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", "a"]}))
>>> stats["x"].type, stats["x"].mean, stats["c"].categorical.top(1)
('int', 2.0, [('a', 2)])

Rules worth knowing:

- A column's type is one of ``int``, ``float``, ``bool`` and ``str``; ``str`` covers
  categorical and free text, and mixed object columns.  Text that looks numeric stays
  ``str``.  A float column whose values are all whole numbers is ``int``: pandas turns
  int columns with missing values into floats.  (Deciding by dtype alone would not merge:
  a chunk without NaN would say ``int`` and a chunk with NaN ``float``.)  Dates and
  other dtypes are summarised as text.
- NaN, None and +-inf count as missing.
- ``std`` is the population standard deviation (ddof=0), which merges exactly.
- When partitions disagree on a type, ``int`` and ``float`` merge to ``float`` and any other
  mix merges to ``str``; a partition without values takes the other's type.  A numeric
  partition merged into a ``str`` column adds to its counts and distinct count only.
"""

import typing

from shipyard.data.statistics.column_types import ColumnType, infer_column_type
from shipyard.data.statistics.dataset import ColumnStatistics, DatasetStatistics
from shipyard.data.statistics.sketches import (
    DEFAULT_QUANTILE_RANKS,
    CategoricalSummary,
    Histogram,
    NumericSummary,
)

if typing.TYPE_CHECKING:
    from shipyard.data.statistics.builder import StatisticsBuilder, compute_statistics

__all__ = [
    "DEFAULT_QUANTILE_RANKS",
    "CategoricalSummary",
    "ColumnStatistics",
    "ColumnType",
    "DatasetStatistics",
    "Histogram",
    "NumericSummary",
    "StatisticsBuilder",
    "compute_statistics",
    "infer_column_type",
]


def __getattr__(name: str) -> typing.Any:
    # The builder reads DataFrames (pandas); stored statistics are read back without it.
    if name in ("StatisticsBuilder", "compute_statistics"):
        from shipyard.data.statistics import builder

        value = getattr(builder, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'shipyard.data.statistics' has no attribute {name!r}")
