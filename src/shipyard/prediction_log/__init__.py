"""The prediction log: every answered prediction, durable before the answer leaves.

A prediction goes through three stages: a server appends it to its **spool** file
(``spool``: one ``os.write`` per batch, so it survives ``kill -9``); compaction — run by
the server's compactor process, ``shipyard.serving.compactor`` — moves closed spool files
into Parquet **segments** in the artifact store, indexed by id in the metadata store
(``compaction``, ``segments``); **readers** see both (``log``).  **Feedback** joins a true
label to a prediction (``feedback``).  The log's columns are listed once, in ``columns``.

Everything goes through ``PredictionLog``:

>>> log = project.prediction_log()  # doctest: +SKIP
>>> log.read(model="ames", since="2h", limit=100)  # doctest: +SKIP

``PredictionLog``, ``CompactionResult``, ``inputs_frame`` and the records are loaded on
first use: they bring pandas, SQLAlchemy and numpy, which listing the newest predictions
(``newest``) has no need of.
"""

from __future__ import annotations

import typing

from shipyard.exports import lazy_exports
from shipyard.prediction_log.columns import COLUMN_NAMES, COLUMNS, Column
from shipyard.prediction_log.lines import prediction_lines
from shipyard.prediction_log.spool import spool_folder
from shipyard.prediction_log.window import parse_duration, parse_since

if typing.TYPE_CHECKING:
    from shipyard.prediction_log.compaction import CompactionResult
    from shipyard.prediction_log.log import PredictionLog, inputs_frame
    from shipyard.prediction_log.records import (
        PredictionRecord,
        new_prediction_id,
        new_prediction_ids,
    )

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "Column",
    "CompactionResult",
    "PredictionLog",
    "PredictionRecord",
    "inputs_frame",
    "new_prediction_id",
    "new_prediction_ids",
    "parse_duration",
    "parse_since",
    "prediction_lines",
    "spool_folder",
]

_LAZY = {
    "CompactionResult": "shipyard.prediction_log.compaction",
    "PredictionLog": "shipyard.prediction_log.log",
    "inputs_frame": "shipyard.prediction_log.log",
    "PredictionRecord": "shipyard.prediction_log.records",
    "new_prediction_id": "shipyard.prediction_log.records",
    "new_prediction_ids": "shipyard.prediction_log.records",
}

__getattr__ = lazy_exports(__name__, _LAZY)
