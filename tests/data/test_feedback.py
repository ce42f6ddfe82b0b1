"""``feedback_rows``: labelled predictions cast to the training table's columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from shipyard import DataError
from shipyard.data import LABEL_SOURCE, PREDICTION_ID, feedback_rows

LIKE = pd.DataFrame(
    {
        "rooms": pd.Series([3, 4], dtype="int64"),
        "size": [50.5, 80.0],
        "area": pd.Series(["north", "south"], dtype="str"),
        "garden": [True, False],
        "price": pd.Series([100, 200], dtype="int64"),
    }
)


def labelled(*rows: dict[str, Any]) -> pd.DataFrame:
    """Rows as ``PredictionLog.labelled_rows`` returns them: inputs, then its columns."""
    return pd.DataFrame(
        [
            {k: v for k, v in row.items() if k not in ("id", "source")}
            | {
                "prediction_id": row["id"],
                "source": row.get("source", "api"),
                "received_at": datetime(2024, 5, 1, tzinfo=UTC),
                "version": 1,
            }
            for row in rows
        ]
    )


def test_rows_take_the_tables_columns_and_types() -> None:
    found = feedback_rows(
        labelled(
            {"id": "b", "rooms": 2, "size": "61", "area": "east", "garden": True, "label": 150.0},
            {"id": "a", "rooms": 5, "area": 7, "extra": "x", "label": 90, "source": "agreed"},
        ),
        like=LIKE,
        target="price",
    )

    assert list(found.columns) == [*LIKE.columns, PREDICTION_ID, LABEL_SOURCE]
    assert list(found[PREDICTION_ID]) == ["a", "b"]  # sorted: same labels, same table
    assert list(found[LABEL_SOURCE]) == ["agreed", "api"]
    assert found["price"].dtype == "int64" and list(found["price"]) == [90, 150]
    assert found["rooms"].dtype == "int64" and list(found["rooms"]) == [5, 2]
    assert found["size"].dtype == "float64"
    assert found["size"].isna().tolist() == [True, False] and found["size"][1] == 61.0
    assert list(found["area"]) == ["7", "east"]
    assert found["garden"].isna().tolist() == [True, False] and found["garden"][1] is True
    # The rows append to the table without changing its column types.
    assert pd.concat([LIKE, found[LIKE.columns]]).dtypes["price"] == "int64"


@pytest.mark.parametrize(
    ("label", "shown"),
    [("cheap", "'cheap'"), (2.5, "2.5"), ({"a": 1}, "{'a': 1}"), (True, None)],
)
def test_a_label_that_cannot_be_cast_names_its_prediction(label: Any, shown: str | None) -> None:
    rows = labelled({"id": "good", "label": 3}, {"id": "bad", "label": label})
    if shown is None:  # a boolean is a number (1) for a numeric target
        assert list(feedback_rows(rows, like=LIKE, target="price")["price"]) == [1, 3]
        return
    with pytest.raises(DataError) as caught:
        feedback_rows(rows, like=LIKE, target="price")
    message = str(caught.value)
    assert (
        f"label of 1 prediction(s) cannot be cast to target column 'price' (int64): bad ({shown})"
        in message
    )
    assert "good" not in message


def test_an_input_that_cannot_be_cast_names_its_predictions() -> None:
    rows = labelled(*({"id": f"p{n}", "garden": "yes", "label": 1} for n in range(7)))
    with pytest.raises(
        DataError, match=r"input 'garden' of 7 labelled prediction\(s\) .* and 2 more"
    ):
        feedback_rows(rows, like=LIKE, target="price")


def test_a_table_with_the_rows_own_column_names_or_without_the_target_is_refused() -> None:
    rows = labelled({"id": "a", "label": 1})
    with pytest.raises(DataError, match=r"columns named \['prediction_id'\]"):
        feedback_rows(rows, like=LIKE.assign(prediction_id="x"), target="price")
    with pytest.raises(DataError, match="target column 'cost' is not in the training data"):
        feedback_rows(rows, like=LIKE, target="cost")
