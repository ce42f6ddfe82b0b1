"""The Answerer batches requests of one loop turn, cuts batches at about 128 rows, and
gives each request its own answer or error — with a stand-in model whose calls are seen."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.serving.answering import Answer, Answerer
from shipyard.serving.catalog import Choice


class DoublingTransform:
    """Reads column x; refuses text as the real transform does."""

    def transform_rows(
        self, rows: Sequence[Mapping[str, Any]], *, stats: Any = None
    ) -> npt.NDArray[np.float64]:
        values = []
        for index, row in enumerate(rows):
            value = row["x"]
            if not isinstance(value, int | float):
                raise InvalidRequest(f"row {index}: x is not a number", field="x", row=index)
            values.append(float(value))
        return np.array(values, dtype=np.float64).reshape(-1, 1)


@dataclass
class DoublingPackage:
    transform: DoublingTransform = field(default_factory=DoublingTransform)
    calls: list[int] = field(default_factory=list)  # rows per model call

    def predict_features(self, features: npt.NDArray[np.float64]) -> Predictions:
        self.calls.append(len(features))
        return Predictions(values=(features[:, 0] * 2).tolist(), probabilities=None, classes=None)


@dataclass
class Served:
    package: DoublingPackage = field(default_factory=DoublingPackage)
    name: str = "m"
    version: int = 1
    required: frozenset[str] = frozenset({"x"})

    def out_of_range(self, features: npt.NDArray[np.float64]) -> dict[str, int]:
        return {}


@dataclass
class Log:
    lines: list[bytes] = field(default_factory=list)

    def append_lines(self, lines: Sequence[bytes]) -> None:
        self.lines += lines


@dataclass
class Counts:
    batches: list[int] = field(default_factory=list)  # requests per model call
    arms: list[str] = field(default_factory=list)  # the arm of each model call
    failed: list[str] = field(default_factory=list)  # the arm of each failed request
    dropped: int = 0

    def predictions_made(
        self, name: str, version: int, *, arm: str, requests: int, **_: Any
    ) -> None:
        self.batches.append(requests)
        self.arms.append(arm)

    def shadow_predictions_made(self, name: str, version: int, arm: str, **_: Any) -> None:
        self.arms.append(arm)

    def prediction_failed(self, name: str, version: int, arm: str) -> None:
        self.failed.append(arm)

    def shadow_rows_dropped(self, name: str, rows: int) -> None:
        self.dropped += rows


@pytest.fixture
def served() -> Served:
    return Served()


@pytest.fixture
def answerer() -> Answerer:
    return Answerer(Log(), Counts())  # type: ignore[arg-type]


def ask(answerer: Answerer, served: Served, *requests: list[dict[str, Any]]) -> list[Any]:
    """Send ``requests`` in one loop turn; each gives its Answer or its exception."""

    async def send() -> list[Any]:
        return await asyncio.gather(
            *(answerer.answer(Choice(served, "primary"), rows, "instances", 0.0) for rows in requests),  # type: ignore[arg-type]
            return_exceptions=True,
        )

    return asyncio.run(send())


def rows(*values: Any) -> list[dict[str, Any]]:
    return [{"x": value} for value in values]


def test_a_request_alone_is_answered_logged_and_counted(answerer: Answerer, served: Served) -> None:
    (answer,) = ask(answerer, served, rows(1, 2.5))
    assert isinstance(answer, Answer)
    assert answer.predictions.values == [2.0, 5.0]
    assert len(set(answer.ids)) == 2
    assert served.package.calls == [2]
    assert len(answerer.log.lines) == 2  # type: ignore[attr-defined]
    assert answerer.telemetry.batches == [1]  # type: ignore[attr-defined]


def test_requests_of_one_loop_turn_share_one_model_call(answerer: Answerer, served: Served) -> None:
    answers = ask(answerer, served, rows(1), rows(2, 3), rows(4))
    assert [a.predictions.values for a in answers] == [[2.0], [4.0, 6.0], [8.0]]
    assert served.package.calls == [4]
    assert answerer.telemetry.batches == [3]  # type: ignore[attr-defined]
    ids = [i for answer in answers for i in answer.ids]
    assert len(set(ids)) == 4


def test_a_batch_is_cut_after_about_128_rows(answerer: Answerer, served: Served) -> None:
    sixty = [rows(*range(60)) for _ in range(3)]
    answers = ask(answerer, served, *sixty)
    # The three requests arrive together: 60 + 60 go in one call, the third in the next.
    assert served.package.calls == [120, 60]
    assert answerer.telemetry.batches == [2, 1]  # type: ignore[attr-defined]
    assert all(a.predictions.values == [2.0 * n for n in range(60)] for a in answers)


def test_a_large_request_is_never_split(answerer: Answerer, served: Served) -> None:
    ask(answerer, served, rows(*range(300)), rows(1), rows(*range(200)))
    assert served.package.calls == [300, 1, 200]


def test_a_bad_request_fails_alone_and_its_batch_is_answered(
    answerer: Answerer, served: Served
) -> None:
    good, bad, missing = rows(1), rows(2, "two"), [{"y": 1}]
    answers = ask(answerer, served, good, bad, missing, good)
    assert answers[0].predictions.values == answers[3].predictions.values == [2.0]
    assert isinstance(answers[1], InvalidRequest) and answers[1].field == "instances[1].x"
    assert isinstance(answers[2], InvalidRequest) and answers[2].field == "instances[0].x"
    assert served.package.calls == [1, 1]  # the batch failed, then each good one alone


def test_a_cancelled_request_does_not_stop_the_rest_of_its_batch(
    answerer: Answerer, served: Served
) -> None:
    async def send() -> Answer:
        gone = asyncio.create_task(answerer.answer(Choice(served, "primary"), rows(1), "instances", 0.0))  # type: ignore[arg-type]
        kept = asyncio.create_task(answerer.answer(Choice(served, "primary"), rows(2), "instances", 0.0))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # both have joined the batch, which has not run yet
        gone.cancel()
        return await kept

    assert asyncio.run(send()).predictions.values == [4.0]
    assert served.package.calls == [2]
