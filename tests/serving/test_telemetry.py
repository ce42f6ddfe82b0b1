"""Metrics observed a batch at a time read as if observed value by value."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from shipyard.serving.telemetry import observe_all

BUCKETS = (-10.0, -1.0, 0.0, 1.0, 10.0, 100.0)
VALUES = [-20.0, -10.0, -9.5, -1.0, 0.0, -0.0, 0.5, 1.0, 3.0, 10.0, 99.0, 100.0, 1e9, math.inf]


def exposition(observe: bool) -> bytes:
    registry = CollectorRegistry()
    histogram = Histogram("v", "values", ["model"], buckets=BUCKETS, registry=registry)
    child = histogram.labels("m")
    if observe:
        for value in VALUES:
            child.observe(value)
    else:
        observe_all(child, VALUES)
    return b"\n".join(
        line for line in generate_latest(registry).splitlines() if b"_created" not in line
    )


def test_a_batch_fills_the_buckets_and_the_sum_as_values_one_by_one_do() -> None:
    assert exposition(observe=False) == exposition(observe=True)
    assert b'v_bucket{le="0.0",model="m"} 6.0' in exposition(observe=False)


def test_without_the_histograms_layout_values_are_observed_one_by_one() -> None:
    seen: list[float] = []

    class Plain:
        def observe(self, value: float) -> None:
            seen.append(value)

    observe_all(Plain(), [1.0, 2.0])
    assert seen == [1.0, 2.0]
