"""Answering prediction requests: checks, transform, model, prediction log, metrics.

Requests that arrive together are answered together (adaptive micro-batching, as
BentoML and Triton do it).  A request joins the batch of the current event-loop turn,
and the batch is answered right after the turn's other ready requests have joined it:
one transform and one model call over all their rows, one write to the prediction log,
one update of each metric.  Nothing waits on a timer: a request alone on the server is a
batch of one, answered one loop turn later (microseconds), and under load the fixed cost
of a model call is paid once per batch.  The model is row by row exact, so a row gets the
same answer alone or in a batch.  A batch refused for a bad value is answered again
without the request that sent it, which gets its own error; a batch that fails otherwise
is answered again request by request: each request gets its own answer or error.

Shadow answers (a deployment's copy of a request, see ``Routing``) are off the response
path: a request's copy is queued once its answer is settled, and the queue is worked
off in later loop turns, after the answers' responses have been sent, in batches of its
own.  The queue is bounded by rows; a copy that does not fit is dropped and counted
(``shipyard_shadow_dropped_rows``).  A shadow's failure is logged and counted, never
seen by the client.  Requests and failures are counted per deployment and arm for the
store (``take_counts``).

Below the ``full`` automation level each answer is triaged (see ``Triage``): the
answer says whether it is a decision (``auto``) or a suggestion for ``review``, and the
review items are kept for the server to add to the store in the background
(``take_review_items``), at most ``REVIEW_QUEUE_ITEMS`` of them waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipyard.data.transform import TransformStats
from shipyard.data.transform.columnar import Column
from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.prediction_log import PredictionLog, new_prediction_ids, prediction_lines
from shipyard.serving import protocol
from shipyard.serving.catalog import Choice, ServedModel
from shipyard.serving.telemetry import Telemetry
from shipyard.store.records import NewReviewItem

__all__ = ["REVIEW_QUEUE_ITEMS", "Answer", "Answerer"]

logger = logging.getLogger("shipyard.serving")

_MAX_BATCH_ROWS = 128
SHADOW_BATCH_ROWS = 512  # rows of shadow copies answered by one model call, at most
SHADOW_QUEUE_ROWS = 8192  # rows of shadow copies waiting, at most; more are dropped
REVIEW_QUEUE_ITEMS = 50_000  # review items waiting for the store, at most; more are dropped
_SHADOW_WARNING_SECONDS = 60.0  # a failing shadow is logged once a minute, not per request


@dataclass(frozen=True, slots=True)
class Answer:
    """The predictions of one request, with the ids and the time they were logged
    under, the arm that answered (``primary`` or ``candidate``), and per row ``auto`` or
    ``review`` (None: every answer is a decision); a ``blind`` answer is not shown to the
    caller."""

    predictions: Predictions
    ids: list[str]
    timestamp: datetime
    arm: str = "primary"
    decisions: list[str] | None = None
    blind: bool = False


@dataclass(slots=True)
class _Request:
    choice: Choice
    rows: list[dict[str, Any]]
    where: str
    started: float
    future: asyncio.Future[Answer]
    columns: Mapping[str, Column] | None  # the same rows as columns, when sent so


@dataclass(slots=True)
class _Copy:
    """A request's copy for a shadow: its rows, and the ids and time of the answers
    returned.  The shadow's answers are logged at that time, however late the queue is
    worked off: a deployment's window holds the copies of its own requests only."""

    served: ServedModel
    arm: str
    deployment: int | None
    rows: list[dict[str, Any]]
    of: list[str]
    timestamp: datetime


def _holding(requests: Sequence[_Request], row: int | None) -> _Request | None:
    """The request whose rows hold ``row`` of all ``requests``' rows, in order."""
    if row is None:
        return None
    for request in requests:
        if row < len(request.rows):
            return request
        row -= len(request.rows)
    return None


def _settle(request: _Request, outcome: Answer | Exception) -> None:
    # A request whose client has gone may have been cancelled meanwhile; the others in
    # its batch must still get their answers.
    if request.future.done():
        return
    if isinstance(outcome, Exception):
        request.future.set_exception(outcome)
    else:
        request.future.set_result(outcome)


class Answerer:
    """Answers prediction requests, alone or batched, and logs and counts every answer."""

    def __init__(self, log: PredictionLog, telemetry: Telemetry) -> None:
        self.log = log
        self.telemetry = telemetry
        self._batch: list[_Request] = []
        self._copies: list[_Copy] = []
        self._copied_rows = 0
        self._counts: dict[tuple[int, str], list[int]] = {}
        self._warned: dict[tuple[str, int], float] = {}
        self._review: list[NewReviewItem] = []

    async def answer(
        self,
        choice: Choice,
        rows: list[dict[str, Any]],
        where: str,
        started: float,
        columns: Mapping[str, Column] | None = None,
    ) -> Answer:
        """Predict ``rows`` (the body's ``where`` field) with ``choice.served``, and queue
        a copy for ``choice.shadow`` once answered.  ``columns``, the same rows as the
        request sent them (Open Inference Protocol tensors), are transformed as they are
        when the request is answered on its own."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        if not self._batch:
            loop.call_soon(self._answer_batch)
        self._batch.append(_Request(choice, rows, where, started, future, columns))
        return await future

    # -- counts per deployment arm ---------------------------------------------------

    def _count(self, deployment: int, arm: str, requests: int, errors: int) -> None:
        counts = self._counts.get((deployment, arm))
        if counts is None:
            self._counts[deployment, arm] = [requests, errors]
        else:
            counts[0] += requests
            counts[1] += errors

    def take_counts(self) -> dict[tuple[int, str], tuple[int, int]]:
        """Requests and failures per (deployment id, arm) since the last call."""
        counts, self._counts = self._counts, {}
        return {key: (value[0], value[1]) for key, value in counts.items() if any(value)}

    def restore_counts(self, counts: dict[tuple[int, str], tuple[int, int]]) -> None:
        """Put back counts that could not be stored, to be stored with the next ones."""
        for (deployment, arm), (requests, errors) in counts.items():
            self._count(deployment, arm, requests, errors)

    # -- review items -------------------------------------------------------------------

    def _queue_review(self, items: list[NewReviewItem], *, new: bool = True) -> None:
        if not items:
            return
        room = max(0, REVIEW_QUEUE_ITEMS - len(self._review))
        if len(items) > room:
            self.telemetry.review_items_dropped(items[0].model, len(items) - room)
            items = items[:room]
        if new and items:
            self.telemetry.review_items_queued(items[0].model, len(items))
        self._review.extend(items)

    def take_review_items(self) -> list[NewReviewItem]:
        """The review items queued since the last call, oldest first."""
        items, self._review = self._review, []
        return items

    def restore_review_items(self, items: list[NewReviewItem]) -> None:
        """Put back items that could not be stored, ahead of the newer ones."""
        waiting, self._review = self._review, []
        self._queue_review(items, new=False)
        self._queue_review(waiting, new=False)

    # -- answering ------------------------------------------------------------------

    def _answer_batch(self) -> None:
        batch, self._batch = self._batch, []
        self._answer_requests(batch)

    def _answer_requests(self, batch: list[_Request]) -> None:
        # About _MAX_BATCH_ROWS rows at a time: the requests answered go out before the
        # rest of the batch is taken up, one loop turn later.
        rows, cut = 0, len(batch)
        for index, request in enumerate(batch):
            rows += len(request.rows)
            if rows > _MAX_BATCH_ROWS and index > 0:
                cut = index
                break
        now, later = batch[:cut], batch[cut:]
        if len(now) == 1:
            self._answer_one(now[0])
        else:
            by_model: dict[tuple[int, str], list[_Request]] = {}
            for request in now:
                choice = request.choice
                by_model.setdefault((id(choice.served), choice.arm), []).append(request)
            for requests in by_model.values():
                self._answer_together(requests)
        if later:
            asyncio.get_running_loop().call_soon(self._answer_requests, later)

    def _answer_together(self, requests: list[_Request]) -> None:
        served = requests[0].choice.served
        ready = []
        for request in requests:
            try:
                protocol.require_columns(
                    request.rows, served.required, model=served.name, where=request.where
                )
            except InvalidRequest as exc:
                self._failed(request, exc)
            else:
                ready.append(request)
        answers = None
        while ready and answers is None:
            try:
                answers = self._predict(ready)
            except InvalidRequest as exc:
                culprit = _holding(ready, exc.row)
                if culprit is None:
                    break
                # The request holding the refused row gets its own error; the others are
                # still answered together.
                self._answer_one(culprit)
                ready = [request for request in ready if request is not culprit]
            except Exception:
                break
        if answers is None:
            for request in ready:  # each on its own: only the bad one fails
                self._answer_one(request)
            return
        for request, answer in zip(ready, answers, strict=True):
            _settle(request, answer)
        for request, answer in zip(ready, answers, strict=True):
            if request.choice.shadow is not None:
                self._copy(request, answer)

    def _answer_one(self, request: _Request) -> None:
        served = request.choice.served
        try:
            protocol.require_columns(
                request.rows, served.required, model=served.name, where=request.where
            )
            [answer] = self._predict([request])
        except Exception as exc:
            self._failed(request, exc)
        else:
            _settle(request, answer)
            if request.choice.shadow is not None:
                self._copy(request, answer)

    def _failed(self, request: _Request, exc: Exception) -> None:
        choice = request.choice
        if choice.deployment is not None:
            self._count(choice.deployment, choice.arm, 1, 1)
        self.telemetry.prediction_failed(choice.served.name, choice.served.version, choice.arm)
        _settle(request, exc)

    def _predict(self, requests: Sequence[_Request]) -> list[Answer]:
        """One transform and model call over the rows of every request, then the log."""
        first = requests[0]
        choice = first.choice
        served, arm, where = choice.served, choice.arm, first.where
        rows = first.rows if len(requests) == 1 else [row for r in requests for row in r.rows]
        package = served.package
        stats = TransformStats()
        columns = first.columns if len(requests) == 1 and len(rows) > 1 else None
        try:
            if columns is None:
                features = package.transform.transform_batch(rows, stats=stats)
            else:
                features = package.transform.transform_columns(columns, len(rows), stats=stats)
        except InvalidRequest as exc:
            if exc.row is None or exc.field is None or len(requests) > 1:
                raise
            raise InvalidRequest(str(exc), field=f"{where}[{exc.row}].{exc.field}") from exc
        predictions = package.predict_features(features)
        triage = choice.triage
        verdicts = None
        if triage is not None:
            novel = served.novelties(rows, features) if triage.level == "partial" else ()
            verdicts = triage.sort(predictions, novel)
        now = time.perf_counter()
        timestamp = datetime.now(UTC)
        ids = new_prediction_ids(len(rows))
        maps = predictions.probability_maps
        answers = []
        lines: list[bytes] = []
        latencies = []
        begin = 0
        for request in requests:
            request_rows = request.rows
            end = begin + len(request_rows)
            part = predictions if len(requests) == 1 else predictions.rows(begin, end)
            part_ids = ids[begin:end]
            latency = now - request.started
            latencies.append(latency)
            lines += prediction_lines(
                model=served.name,
                version=served.version,
                ids=part_ids,
                rows=request_rows,
                values=part.values,
                probabilities=None if maps is None else maps[begin:end],
                latency_ms=latency * 1000,
                timestamp=timestamp,
                variant=arm,
            )
            if verdicts is None:
                answers.append(Answer(part, part_ids, timestamp, arm))
            else:
                assert triage is not None
                self._queue_review(triage.items(verdicts, begin, part_ids, request_rows, part))
                answers.append(
                    Answer(
                        part,
                        part_ids,
                        timestamp,
                        arm,
                        verdicts.decisions[begin:end],
                        triage.blind,
                    )
                )
            deployment = request.choice.deployment
            if deployment is not None:
                self._count(deployment, arm, 1, 0)
            begin = end
        self.log.append_lines(lines)
        self.telemetry.predictions_made(
            served.name,
            served.version,
            arm=arm,
            requests=len(requests),
            values=predictions.values,
            latencies=latencies,
            classifier=predictions.probabilities is not None,
            missing=stats.missing,
            unseen=stats.unseen,
            out_of_range=served.out_of_range(features),
        )
        return answers

    # -- shadows --------------------------------------------------------------------

    def _copy(self, request: _Request, answer: Answer) -> None:
        """Queue the copy of an answered request for its shadow, or drop it if the
        queue is full; the queue is worked off after the answers have gone out."""
        choice = request.choice
        shadow = choice.shadow
        assert shadow is not None
        size = len(request.rows)
        if self._copied_rows + size > SHADOW_QUEUE_ROWS:
            self.telemetry.shadow_rows_dropped(shadow.name, size)
            return
        if not self._copies:
            # Scheduled after the answers were settled: their requests' tasks, which
            # send the responses, run first.
            asyncio.get_running_loop().call_soon(self._answer_copies)
        self._copies.append(
            _Copy(
                shadow,
                choice.shadow_arm,
                choice.deployment,
                request.rows,
                answer.ids,
                answer.timestamp,
            )
        )
        self._copied_rows += size

    def _answer_copies(self, deferred: bool = False) -> None:
        """Answer up to ``SHADOW_BATCH_ROWS`` rows of queued copies; the rest wait for a
        later loop turn, so that new requests are not held up behind a long queue.
        Requests that arrived meanwhile are answered first (once: the copies are not
        put off for ever under a steady load)."""
        if self._batch and not deferred:
            asyncio.get_running_loop().call_soon(self._answer_copies, True)
            return
        copies = self._copies
        rows, cut = 0, len(copies)
        for index, copy in enumerate(copies):
            rows += len(copy.rows)
            if rows >= SHADOW_BATCH_ROWS:
                cut = index + 1
                break
        now, self._copies = copies[:cut], copies[cut:]
        self._copied_rows -= sum(len(copy.rows) for copy in now)
        if self._copies:
            asyncio.get_running_loop().call_soon(self._answer_copies)
        by_model: dict[tuple[int, str], list[_Copy]] = {}
        for copy in now:
            by_model.setdefault((id(copy.served), copy.arm), []).append(copy)
        for group in by_model.values():
            try:
                self._shadow_predict(group)
            except Exception:
                for copy in group:  # each on its own: only the bad one fails
                    try:
                        self._shadow_predict([copy])
                    except Exception as exc:
                        self._shadow_failed(copy, exc)

    def _shadow_failed(self, copy: _Copy, exc: Exception) -> None:
        served = copy.served
        if copy.deployment is not None:
            self._count(copy.deployment, copy.arm, 1, 1)
        self.telemetry.prediction_failed(served.name, served.version, copy.arm)
        key = (served.name, served.version)
        now = time.monotonic()
        if now - self._warned.get(key, -_SHADOW_WARNING_SECONDS) >= _SHADOW_WARNING_SECONDS:
            self._warned[key] = now
            logger.warning(
                "shadow %s:%s (%s) failed: %s; its failures are counted in "
                "shipyard_prediction_failures, the answers returned are not affected",
                served.name, served.version, copy.arm, exc,
            )  # fmt: skip

    def _shadow_predict(self, copies: list[_Copy]) -> None:
        """One model call over the rows of ``copies``, logged as shadow answers linked
        to the answers returned; a shadow's latency is the time of its model call."""
        served, arm = copies[0].served, copies[0].arm
        started = time.perf_counter()
        for copy in copies:
            protocol.require_columns(copy.rows, served.required, model=served.name, where="rows")
        rows = copies[0].rows if len(copies) == 1 else [row for c in copies for row in c.rows]
        package = served.package
        predictions = package.predict_features(package.transform.transform_batch(rows))
        seconds = time.perf_counter() - started
        ids = new_prediction_ids(len(rows))
        maps = predictions.probability_maps
        lines: list[bytes] = []
        begin = 0
        for copy in copies:
            end = begin + len(copy.rows)
            lines += prediction_lines(
                model=served.name,
                version=served.version,
                ids=ids[begin:end],
                rows=copy.rows,
                values=predictions.values[begin:end],
                probabilities=None if maps is None else maps[begin:end],
                latency_ms=seconds * 1000,
                timestamp=copy.timestamp,
                variant="shadow",
                shadow_of=copy.of,
            )
            if copy.deployment is not None:
                self._count(copy.deployment, arm, 1, 0)
            begin = end
        self.log.append_lines(lines)
        self.telemetry.shadow_predictions_made(
            served.name, served.version, arm, rows=len(rows), latencies=[seconds] * len(copies)
        )
