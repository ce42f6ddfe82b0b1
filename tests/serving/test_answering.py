"""The Answerer batches requests of one loop turn, cuts batches at about 128 rows, and
gives each request its own answer or error — with a stand-in model whose calls are seen."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.serving import answering
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

    transform_batch = transform_rows


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
            *(
                answerer.answer(Choice(served, "primary"), rows, "instances", 0.0)
                for rows in requests
            ),  # type: ignore[arg-type]
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
    # The batch was refused for the bad one's row, then the good ones answered together.
    assert served.package.calls == [2]
    assert answerer.telemetry.failed == ["primary", "primary"]  # type: ignore[attr-defined]


def test_a_batch_that_fails_otherwise_is_answered_request_by_request(
    answerer: Answerer, served: Served
) -> None:
    # A refusal that names no row cannot be laid on one request: each is tried alone.
    class Unplaced(DoublingTransform):
        def transform_rows(self, rows: Sequence[Mapping[str, Any]], *, stats: Any = None) -> Any:
            if any(row["x"] == 2 for row in rows):
                raise InvalidRequest("x is 2")
            return super().transform_rows(rows, stats=stats)

        transform_batch = transform_rows

    served.package.transform = Unplaced()
    answers = ask(answerer, served, rows(1), rows(2), rows(3))
    assert answers[0].predictions.values == [2.0] and answers[2].predictions.values == [6.0]
    assert isinstance(answers[1], InvalidRequest)
    assert served.package.calls == [1, 1]


def test_a_cancelled_request_does_not_stop_the_rest_of_its_batch(
    answerer: Answerer, served: Served
) -> None:
    async def send() -> Answer:
        gone = asyncio.create_task(
            answerer.answer(Choice(served, "primary"), rows(1), "instances", 0.0)
        )  # type: ignore[arg-type]
        kept = asyncio.create_task(
            answerer.answer(Choice(served, "primary"), rows(2), "instances", 0.0)
        )  # type: ignore[arg-type]
        await asyncio.sleep(0)  # both have joined the batch, which has not run yet
        gone.cancel()
        return await kept

    assert asyncio.run(send()).predictions.values == [4.0]
    assert served.package.calls == [2]


# -- arms, shadows and counts -------------------------------------------------------------


@dataclass
class FailingPackage(DoublingPackage):
    def predict_features(self, features: npt.NDArray[np.float64]) -> Predictions:
        raise RuntimeError("the shadow is broken")


def lines_of(answerer: Answerer) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in answerer.log.lines]  # type: ignore[attr-defined]


def test_a_shadow_answers_after_the_response_and_is_logged_linked(answerer: Answerer) -> None:
    primary, shadow = Served(), Served(version=2)
    choice = Choice(primary, "primary", 7, shadow, "candidate.shadow")  # type: ignore[arg-type]
    seen: list[int] = []

    async def send() -> list[Answer]:
        async def one(values: list[dict[str, Any]]) -> Answer:
            answer = await answerer.answer(choice, values, "instances", 0.0)
            seen.append(len(shadow.package.calls))  # the shadow has not run yet
            return answer

        answers = await asyncio.gather(one(rows(1, 2)), one(rows(3)))
        for _ in range(3):
            await asyncio.sleep(0)
        return answers

    answers = asyncio.run(send())
    assert seen == [0, 0]
    assert [a.arm for a in answers] == ["primary", "primary"]
    assert primary.package.calls == [3] and shadow.package.calls == [3]  # one call each
    lines = lines_of(answerer)
    returned = [i for answer in answers for i in answer.ids]
    assert [line["id"] for line in lines if line["variant"] == "primary"] == returned
    shadows = [line for line in lines if line["variant"] == "shadow"]
    assert [line["shadow_of"] for line in shadows] == returned
    assert {line["version"] for line in shadows} == {2}
    assert [line["prediction"] for line in shadows] == [2.0, 4.0, 6.0]
    # Logged at the time of the answer each copies, not when the queue got to it.
    primaries = {line["id"]: line["ts"] for line in lines if line["variant"] == "primary"}
    assert [line["ts"] for line in shadows] == [primaries[i] for i in returned]
    assert answerer.take_counts() == {(7, "primary"): (2, 0), (7, "candidate.shadow"): (2, 0)}
    assert answerer.take_counts() == {}  # taken: counted afresh


def test_a_failing_shadow_never_reaches_the_client(answerer: Answerer) -> None:
    primary, shadow = Served(), Served(package=FailingPackage(), version=2)
    choice = Choice(primary, "primary", 7, shadow, "candidate.shadow")  # type: ignore[arg-type]

    async def send() -> Answer:
        answer = await answerer.answer(choice, rows(1), "instances", 0.0)
        for _ in range(3):
            await asyncio.sleep(0)
        return answer

    assert asyncio.run(send()).predictions.values == [2.0]
    assert answerer.telemetry.failed == ["candidate.shadow"]  # type: ignore[attr-defined]
    assert answerer.take_counts() == {(7, "primary"): (1, 0), (7, "candidate.shadow"): (1, 1)}
    assert [line["variant"] for line in lines_of(answerer)] == ["primary"]


def test_the_shadow_queue_is_bounded_by_rows(
    answerer: Answerer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answering, "SHADOW_QUEUE_ROWS", 5)
    primary, shadow = Served(), Served(version=2)
    choice = Choice(primary, "candidate", 3, shadow, "primary.shadow")  # type: ignore[arg-type]

    async def send() -> list[Answer]:
        answers = await asyncio.gather(
            *(answerer.answer(choice, rows(1, 2), "instances", 0.0) for _ in range(3))
        )
        for _ in range(3):
            await asyncio.sleep(0)
        return answers

    answers = asyncio.run(send())
    assert all(answer.arm == "candidate" for answer in answers)
    assert shadow.package.calls == [4]  # two copies fit, the third was dropped
    assert answerer.telemetry.dropped == 2  # type: ignore[attr-defined]
    assert answerer.take_counts() == {(3, "candidate"): (3, 0), (3, "primary.shadow"): (2, 0)}


def test_failures_are_counted_on_the_arm_that_failed(answerer: Answerer) -> None:
    served = Served(package=FailingPackage())
    choice = Choice(served, "candidate", 5)  # type: ignore[arg-type]

    async def send() -> list[Any]:
        return await asyncio.gather(
            answerer.answer(choice, rows(1), "instances", 0.0),
            answerer.answer(choice, [{"y": 1}], "instances", 0.0),
            return_exceptions=True,
        )

    failed = asyncio.run(send())
    assert isinstance(failed[0], RuntimeError) and isinstance(failed[1], InvalidRequest)
    assert answerer.take_counts() == {(5, "candidate"): (2, 2)}
    answerer.restore_counts({(5, "candidate"): (1, 0)})
    assert answerer.take_counts() == {(5, "candidate"): (1, 0)}


def test_requests_without_a_deployment_are_not_counted(answerer: Answerer, served: Served) -> None:
    ask(answerer, served, rows(1), rows(2))
    assert answerer.take_counts() == {}
    assert answerer.telemetry.arms == ["primary"]  # type: ignore[attr-defined]
