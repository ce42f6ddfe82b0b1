"""Serving: the prediction log now; the prediction server joins it here."""

from shipyard.serving.predictions import (
    CompactionResult,
    PredictionLog,
    PredictionRecord,
    inputs_frame,
    new_prediction_id,
    spool_folder,
)

__all__ = [
    "CompactionResult",
    "PredictionLog",
    "PredictionRecord",
    "inputs_frame",
    "new_prediction_id",
    "spool_folder",
]
