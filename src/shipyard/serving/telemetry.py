"""Prometheus metrics of the prediction server.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` must name a folder before
``prometheus_client`` is first imported (``shipyard serve --workers N`` sets it); then
``/metrics`` aggregates every worker's values.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from shipyard.modeling.compiled import FALLBACKS

__all__ = ["CONTENT_TYPE_LATEST", "Telemetry"]

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
)  # fmt: skip


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Telemetry:
    """The server's counters, gauges and histograms, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        registry = None if _multiprocess() else self.registry
        self.requests = Counter(
            "shipyard_requests", "Requests by endpoint and status.", ["endpoint", "status"],
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "shipyard_request_latency_seconds", "Time to answer a request.", ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.in_flight = Gauge(
            "shipyard_requests_in_flight", "Requests being answered.", registry=registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.predictions = Counter(
            "shipyard_predictions", "Predictions by model version.", ["model", "version"],
            registry=registry,
        )  # fmt: skip
        self.values = Histogram(
            "shipyard_prediction_value", "Predicted values of regression models.", ["model"],
            buckets=(-1e6, -1e3, -10, -1, 0, 1, 10, 100, 1e3, 1e4, 1e5, 3e5, 1e6, 1e7),
            registry=registry,
        )  # fmt: skip
        self.classes = Counter(
            "shipyard_predicted_class", "Predicted classes of classifiers.", ["model", "label"],
            registry=registry,
        )  # fmt: skip
        self.missing = Counter(
            "shipyard_input_missing", "Missing input values, imputed.", ["model", "column"],
            registry=registry,
        )  # fmt: skip
        self.unseen = Counter(
            "shipyard_input_unseen", "Categories never seen in training.", ["model", "column"],
            registry=registry,
        )  # fmt: skip
        self.out_of_range = Counter(
            "shipyard_input_out_of_range", "Numbers outside the schema's range.",
            ["model", "column"], registry=registry,
        )  # fmt: skip
        self.batch_requests = Histogram(
            "shipyard_batch_requests", "Requests answered together by one model call.",
            ["model"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=registry,
        )  # fmt: skip
        self.load_seconds = Gauge(
            "shipyard_model_load_seconds", "Time to load a model version.", ["model", "version"],
            registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.model_info = Gauge(
            "shipyard_model_info", "The version each served model answers with (value 1).",
            ["model", "version", "alias"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip

        if registry is not None:  # counted when a model is loaded, shown with the rest
            registry.register(FALLBACKS)

    def model_loaded(
        self, name: str, version: int, alias: str, seconds: float, old: int | None
    ) -> None:
        if old is not None:
            self.model_info.labels(name, str(old), alias).set(0)
        self.model_info.labels(name, str(version), alias).set(1)
        self.load_seconds.labels(name, str(version)).set(seconds)

    def _child(self, metric: Any, *labels: str) -> Any:
        # prometheus_client checks and looks labels up on every call; the request path
        # asks for the same few series again and again, so they are kept here.
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_answered(self, endpoint: str, status: int, seconds: float) -> None:
        self._child(self.requests, endpoint, str(status)).inc()
        self._child(self.latency, endpoint).observe(seconds)

    def predictions_made(
        self,
        name: str,
        version: int,
        *,
        requests: int,
        values: Sequence[Any],
        classifier: bool,
        missing: Mapping[str, int],
        unseen: Mapping[str, int],
        out_of_range: Mapping[str, int],
    ) -> None:
        """Count one model call: its requests, predictions and odd input values."""
        self._child(self.batch_requests, name).observe(requests)
        self._child(self.predictions, name, str(version)).inc(len(values))
        if classifier:
            for label, count in Tally(str(value) for value in values).items():
                self._child(self.classes, name, label).inc(count)
        else:
            histogram = self._child(self.values, name)
            for value in values:
                histogram.observe(value)
        for kind, counts in (
            (self.missing, missing), (self.unseen, unseen), (self.out_of_range, out_of_range)
        ):  # fmt: skip
            for column, count in counts.items():
                if count:
                    self._child(kind, name, column).inc(count)

    def exposition(self) -> bytes:
        if _multiprocess():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
