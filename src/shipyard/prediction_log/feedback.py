"""Feedback: the true label of a logged prediction.

One label per prediction: a second label replaces the first (the stored record says
``replaced=True``), so corrections need no special path.  Labels are checked here, before
anything is stored; ``PredictionLog`` checks that their predictions exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pandas as pd

from shipyard.errors import InvalidRequest, RecordNotFound
from shipyard.prediction_log.lines import json_text
from shipyard.store.predictions import FeedbackRecord

__all__ = ["checked_label", "labels_frame", "unknown_predictions"]


def checked_label(prediction_id: str, label: Any) -> Any:
    """``label`` as it will be stored (plain JSON values); ``InvalidRequest`` if it cannot."""
    try:
        # A round trip turns numpy scalars into numbers and NaN into null.
        value = orjson.loads(json_text(label))
    except TypeError as exc:
        raise InvalidRequest(
            f"the label of prediction {prediction_id} cannot be stored: {exc}", field="label"
        ) from exc
    if value is None:
        raise InvalidRequest(
            f"the label of prediction {prediction_id} is missing (null or NaN)", field="label"
        )
    return value


def unknown_predictions(missing: Sequence[str]) -> RecordNotFound:
    """The error for labels of predictions the log does not hold, naming a few of them."""
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    what = "prediction" if len(missing) == 1 else f"{len(missing)} predictions"
    return RecordNotFound(
        f"{what} {shown} not in the prediction log; feedback must name a "
        "prediction_id returned by the server (nothing was recorded)"
    )


def labels_frame(labels: Sequence[FeedbackRecord]) -> pd.DataFrame:
    """Stored labels as a frame: ``prediction_id``, ``label`` and ``received_at``."""
    return pd.DataFrame(
        {
            "prediction_id": pd.Series([f.prediction_id for f in labels], dtype="str"),
            "label": pd.Series([f.label for f in labels], dtype="object"),
            "received_at": pd.Series([f.received_at for f in labels], dtype="datetime64[us, UTC]"),
        }
    )
