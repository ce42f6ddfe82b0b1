"""Prometheus metrics of the prediction server.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` must name a folder before
``prometheus_client`` is first imported (``shipyard serve --workers N`` sets it); then
``/metrics`` aggregates every worker's values.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np
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

__all__ = ["CONTENT_TYPE_LATEST", "Telemetry", "observe_all"]

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
)  # fmt: skip


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def observe_all(histogram: Any, values: Sequence[float]) -> None:
    """``histogram.observe(value)`` for every value of a batch, with one add per bucket
    and one to the sum, instead of a locked add and a bucket search per value: this
    reads the bucket bounds and values of prometheus_client's histogram, and observes
    value by value if they are not laid out as it expects."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values:
            histogram.observe(value)
        return
    # The first bound >= value, as observe finds it; NaN is in no bucket.
    slots = np.searchsorted(np.asarray(bounds), np.asarray(values, dtype=np.float64))
    counts = np.bincount(slots, minlength=len(bounds) + 1)[: len(bounds)]
    for bucket, count in zip(buckets, counts.tolist(), strict=True):
        if count:
            bucket.inc(count)
    total.inc(sum(values))


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
            "shipyard_predictions",
            "Predictions by model version and arm (primary, candidate, primary.shadow, "
            "candidate.shadow; shadow answers are logged, never returned).",
            ["model", "version", "arm"], registry=registry,
        )  # fmt: skip
        self.failures = Counter(
            "shipyard_prediction_failures",
            "Requests a model version failed to answer, by arm.",
            ["model", "version", "arm"], registry=registry,
        )  # fmt: skip
        self.prediction_latency = Histogram(
            "shipyard_prediction_latency_seconds",
            "Per request, by model version and arm: from its arrival to its answer; for a "
            "shadow, the time of its model call.",
            ["model", "version", "arm"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.shadow_dropped = Counter(
            "shipyard_shadow_dropped_rows",
            "Rows not copied to a shadow because its queue was full.",
            ["model"], registry=registry,
        )  # fmt: skip
        self.review_queued = Counter(
            "shipyard_review_queued_items",
            "Answers queued for human review, by model.",
            ["model"], registry=registry,
        )  # fmt: skip
        self.review_dropped = Counter(
            "shipyard_review_dropped_items",
            "Review items not queued because the store could not keep up.",
            ["model"], registry=registry,
        )  # fmt: skip
        self.review_depth = Gauge(
            "shipyard_review_queue_depth",
            "Items waiting for a reviewer (open) or an adjudicator (disputed), by model.",
            ["model", "status"], registry=registry, multiprocess_mode="max",
        )  # fmt: skip
        self.review_oldest = Gauge(
            "shipyard_review_oldest_item_age_seconds",
            "Age of the oldest open review item, by model (0: none open).",
            ["model"], registry=registry, multiprocess_mode="max",
        )  # fmt: skip
        self.drift_score = Gauge(
            "shipyard_drift_score",
            "Drift of each feature in the latest monitoring window (Jensen-Shannon distance).",
            ["model", "version", "feature"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.drift_threshold = Gauge(
            "shipyard_drift_threshold",
            "The score above which a feature counts as drifted in that window.",
            ["model", "version", "feature"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.output_drift = Gauge(
            "shipyard_output_drift_score",
            "Drift of the answers against the eval split's in the latest window.",
            ["model", "version"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.realised = Gauge(
            "shipyard_realised_performance",
            "A metric on the labelled answers of the latest window.",
            ["model", "version", "metric"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.estimated = Gauge(
            "shipyard_estimated_performance",
            "A metric estimated without labels from calibrated probabilities (latest window).",
            ["model", "version", "metric"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.alerts_open = Gauge(
            "shipyard_alerts_open", "Open monitoring alerts, by model and severity.",
            ["model", "severity"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.retrains = Gauge(
            "shipyard_loop_retrains",
            "Retrains of each model by state: under way (triggered ... canary) or how they "
            "ended (promoted, rolled_back, rejected, failed).",
            ["model", "status"], registry=registry, multiprocess_mode="mostrecent",
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

    def model_loaded(self, name: str, version: int, seconds: float) -> None:
        self.load_seconds.labels(name, str(version)).set(seconds)

    def models_served(
        self, now: Set[tuple[str, int, str]], before: Set[tuple[str, int, str]]
    ) -> None:
        """Show the (model, version, alias) served ``now`` in ``shipyard_model_info``
        (a candidate's alias is ``candidate``); those served ``before`` only get 0."""
        for name, version, alias in before - now:
            self.model_info.labels(name, str(version), alias).set(0)
        for name, version, alias in now - before:
            self.model_info.labels(name, str(version), alias).set(1)

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
        arm: str,
        requests: int,
        values: Sequence[Any],
        latencies: Sequence[float],
        classifier: bool,
        missing: Mapping[str, int],
        unseen: Mapping[str, int],
        out_of_range: Mapping[str, int],
    ) -> None:
        """Count one model call: its requests, predictions, their latencies and odd
        input values."""
        self._child(self.batch_requests, name).observe(requests)
        self.shadow_predictions_made(name, version, arm, rows=len(values), latencies=latencies)
        if classifier:
            for label, count in Tally(str(value) for value in values).items():
                self._child(self.classes, name, label).inc(count)
        else:
            observe_all(self._child(self.values, name), values)
        for kind, counts in (
            (self.missing, missing), (self.unseen, unseen), (self.out_of_range, out_of_range)
        ):  # fmt: skip
            for column, count in counts.items():
                if count:
                    self._child(kind, name, column).inc(count)

    def shadow_predictions_made(
        self, name: str, version: int, arm: str, *, rows: int, latencies: Sequence[float]
    ) -> None:
        """Count one shadow model call (its answers say nothing of the inputs or of
        what the model returns to clients, so only these two); every model call counts
        these through here."""
        self._child(self.predictions, name, str(version), arm).inc(rows)
        latency = self._child(self.prediction_latency, name, str(version), arm)
        for seconds in latencies:
            latency.observe(seconds)

    def prediction_failed(self, name: str, version: int, arm: str) -> None:
        self._child(self.failures, name, str(version), arm).inc()

    def shadow_rows_dropped(self, name: str, rows: int) -> None:
        self._child(self.shadow_dropped, name).inc(rows)

    def review_items_dropped(self, name: str, items: int) -> None:
        self._child(self.review_dropped, name).inc(items)

    def review_items_queued(self, name: str, items: int) -> None:
        self._child(self.review_queued, name).inc(items)

    def review_queue(self, depths: Mapping[str, tuple[int, int, float]]) -> None:
        """Set each model's queue: open items, disputed items, oldest open age (s)."""
        for name, (open_items, disputed, oldest) in depths.items():
            self.review_depth.labels(model=name, status="open").set(open_items)
            self.review_depth.labels(model=name, status="disputed").set(disputed)
            self.review_oldest.labels(model=name).set(oldest)

    def monitoring(
        self,
        latest: Sequence[tuple[str, int, Mapping[str, Any]]],
        open_alerts: Mapping[tuple[str, str], int],
    ) -> None:
        """Show the latest window of each model version (``(model, version, result)``)
        and the open alerts by model and severity (absent pairs show 0)."""
        for gauge in (self.drift_score, self.drift_threshold, self.output_drift):
            gauge.clear()
        for gauge in (self.realised, self.estimated, self.alerts_open):
            gauge.clear()
        for model, version, result in latest:
            labels = {"model": model, "version": str(version)}
            for feature, drift in (result.get("features") or {}).items():
                if drift.get("score") is not None:
                    self.drift_score.labels(**labels, feature=feature).set(drift["score"])
                    self.drift_threshold.labels(**labels, feature=feature).set(drift["threshold"])
            output = result.get("output") or {}
            if output.get("score") is not None:
                self.output_drift.labels(**labels).set(output["score"])
            for metric, found in (result.get("performance") or {}).items():
                self.realised.labels(**labels, metric=metric).set(found["value"])
            for metric, value in (result.get("estimated") or {}).items():
                self.estimated.labels(**labels, metric=metric).set(value)
        for (model, severity), count in open_alerts.items():
            self.alerts_open.labels(model=model, severity=severity).set(count)

    def loop(self, retrains: Mapping[tuple[str, str], int]) -> None:
        """Show how many retrains of each model are in each state."""
        self.retrains.clear()
        for (model, status), count in retrains.items():
            self.retrains.labels(model=model, status=status).set(count)

    def exposition(self) -> bytes:
        if _multiprocess():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
