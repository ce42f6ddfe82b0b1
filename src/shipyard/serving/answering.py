"""Answering prediction requests: checks, transform, model, prediction log, metrics.

Requests that arrive together are answered together (adaptive micro-batching, as
BentoML and Triton do it).  A request joins the batch of the current event-loop turn,
and the batch is answered right after the turn's other ready requests have joined it:
one transform and one model call over all their rows, one write to the prediction log,
one update of each metric.  Nothing waits on a timer: a request alone on the server is a
batch of one, answered one loop turn later (microseconds), and under load the fixed cost
of a model call is paid once per batch.  The model is row by row exact, so a row gets the
same answer alone or in a batch; a batch that fails (one request's bad value) is
answered again request by request, so each request gets its own answer or error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipyard.data.transform import TransformStats
from shipyard.errors import InvalidRequest
from shipyard.modeling.package import Predictions
from shipyard.prediction_log import PredictionLog, new_prediction_ids, prediction_lines
from shipyard.serving import protocol
from shipyard.serving.catalog import ServedModel
from shipyard.serving.telemetry import Telemetry

__all__ = ["Answer", "Answerer"]

_MAX_BATCH_ROWS = 128


@dataclass(frozen=True, slots=True)
class Answer:
    """The predictions of one request, with the ids they were logged under."""

    predictions: Predictions
    ids: list[str]


@dataclass(slots=True)
class _Request:
    served: ServedModel
    rows: list[dict[str, Any]]
    where: str
    started: float
    future: asyncio.Future[Answer]


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

    async def answer(
        self, served: ServedModel, rows: list[dict[str, Any]], where: str, started: float
    ) -> Answer:
        """Predict ``rows`` (the body's ``where`` field) with ``served``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        if not self._batch:
            loop.call_soon(self._answer_batch)
        self._batch.append(_Request(served, rows, where, started, future))
        return await future

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
            by_model: dict[int, list[_Request]] = {}
            for request in now:
                by_model.setdefault(id(request.served), []).append(request)
            for requests in by_model.values():
                self._answer_together(requests)
        if later:
            asyncio.get_running_loop().call_soon(self._answer_requests, later)

    def _answer_together(self, requests: list[_Request]) -> None:
        served = requests[0].served
        ready = []
        for request in requests:
            try:
                protocol.require_columns(
                    request.rows, served.required, model=served.name, where=request.where
                )
            except InvalidRequest as exc:
                _settle(request, exc)
            else:
                ready.append(request)
        if not ready:
            return
        try:
            answers = self._predict(
                served,
                [request.rows for request in ready],
                [request.started for request in ready],
                ready[0].where,
            )
        except Exception:
            for request in ready:  # each on its own: only the bad one fails
                self._answer_one(request)
            return
        for request, answer in zip(ready, answers, strict=True):
            _settle(request, answer)

    def _answer_one(self, request: _Request) -> None:
        try:
            protocol.require_columns(
                request.rows,
                request.served.required,
                model=request.served.name,
                where=request.where,
            )
            [answer] = self._predict(
                request.served, [request.rows], [request.started], request.where
            )
        except Exception as exc:
            _settle(request, exc)
        else:
            _settle(request, answer)

    def _predict(
        self,
        served: ServedModel,
        requests: Sequence[list[dict[str, Any]]],
        started: Sequence[float],
        where: str,
    ) -> list[Answer]:
        """One transform and model call over the rows of every request, then the log."""
        rows = requests[0] if len(requests) == 1 else [row for rows in requests for row in rows]
        package = served.package
        stats = TransformStats()
        try:
            features = package.transform.transform_rows(rows, stats=stats)
        except InvalidRequest as exc:
            if exc.row is None or exc.field is None or len(requests) > 1:
                raise
            raise InvalidRequest(str(exc), field=f"{where}[{exc.row}].{exc.field}") from exc
        predictions = package.predict_features(features)
        now = time.perf_counter()
        timestamp = datetime.now(UTC)
        ids = new_prediction_ids(len(rows))
        maps = predictions.probability_maps
        answers = []
        lines: list[bytes] = []
        begin = 0
        for request_rows, request_started in zip(requests, started, strict=True):
            end = begin + len(request_rows)
            part = predictions if len(requests) == 1 else predictions.rows(begin, end)
            part_ids = ids[begin:end]
            lines += prediction_lines(
                model=served.name,
                version=served.version,
                ids=part_ids,
                rows=request_rows,
                values=part.values,
                probabilities=None if maps is None else maps[begin:end],
                latency_ms=(now - request_started) * 1000,
                timestamp=timestamp,
            )
            answers.append(Answer(part, part_ids))
            begin = end
        self.log.append_lines(lines)
        self.telemetry.predictions_made(
            served.name,
            served.version,
            requests=len(requests),
            values=predictions.values,
            classifier=predictions.probabilities is not None,
            missing=stats.missing,
            unseen=stats.unseen,
            out_of_range=served.out_of_range(features),
        )
        return answers
