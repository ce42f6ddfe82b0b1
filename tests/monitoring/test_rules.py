"""Alert rules read against window results."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.config import AlertRule, MonitoringSettings, parse_config
from shipyard.errors import ConfigError
from shipyard.monitoring.rules import default_rules, read_rule, rules_for


def window(**result: Any) -> dict[str, Any]:
    return {"count": 500, "features": {}, "drifted": [], "drift_share": 0.0, **result}


def drift(score: float | None, threshold: float = 0.1) -> dict[str, Any]:
    return {
        "score": score, "threshold": threshold, "drifted": score is not None and score > threshold,
        "status": "not enough data" if score is None else "stable",
    }  # fmt: skip


def test_drifted_features_name_the_columns() -> None:
    rule = AlertRule(name="drift", metric="drifted_features", above=0)
    features = {"size": drift(0.31), "area": drift(0.02)}
    found = read_rule(rule, window(features=features, drifted=["size"], drift_share=0.5))
    assert found.crossed and found.value == 1.0
    assert "size (0.310 > 0.100)" in found.message and "area" not in found.message
    calm = read_rule(rule, window(features={"area": drift(0.02)}))
    assert calm.crossed is False


def test_a_window_without_enough_data_cannot_tell() -> None:
    rule = AlertRule(name="drift", metric="drifted_features", above=0)
    found = read_rule(rule, window(features={"size": drift(None)}, drift_share=None))
    assert found.crossed is None and "enough data" in found.message
    size = AlertRule(name="size", metric="drift.size", above=0.2)
    assert read_rule(size, window(features={"size": drift(None)})).crossed is None


def test_realised_performance_crosses_only_with_its_whole_interval() -> None:
    rule = AlertRule(name="perf", metric="performance.accuracy", drop=0.1)
    evaluation = {"accuracy": 0.9}  # 10% worse is below 0.81
    few = {"accuracy": {"value": 0.75, "lower": 0.57, "upper": 0.87, "count": 30}}
    many = {"accuracy": {"value": 0.75, "lower": 0.72, "upper": 0.78, "count": 1000}}
    assert read_rule(rule, window(performance=few, evaluation=evaluation)).crossed is False
    crossed = read_rule(rule, window(performance=many, evaluation=evaluation))
    assert crossed.crossed and "on 1000 labels" in crossed.message and "0.81" in crossed.message
    assert read_rule(rule, window(performance=None, evaluation=evaluation)).crossed is None


def test_drop_follows_the_metric_direction() -> None:
    rule = AlertRule(name="rmse", metric="performance.rmse", drop=0.2)
    evaluation = {"rmse": 10.0}  # 20% worse is above 12
    worse = {"rmse": {"value": 14.0, "lower": 12.5, "upper": 15.0, "count": 400}}
    better = {"rmse": {"value": 9.0, "lower": 8.0, "upper": 10.0, "count": 400}}
    assert read_rule(rule, window(performance=worse, evaluation=evaluation)).crossed
    assert read_rule(rule, window(performance=better, evaluation=evaluation)).crossed is False
    no_eval = read_rule(rule, window(performance=worse, evaluation={}))
    assert no_eval.crossed is None and "no evaluation rmse" in no_eval.message


def test_estimates_skew_latency_and_count() -> None:
    estimated = AlertRule(name="est", metric="estimated.accuracy", below=0.8)
    assert read_rule(estimated, window(estimated={"accuracy": 0.7})).crossed
    assert read_rule(estimated, window(estimated=None)).crossed is None
    skew = {
        "missing_columns": ["a"],
        "unseen_share": {"area": 0.2, "heating": 0.01},
        "missing_share": {"age": {"current": 0.3, "reference": 0.1, "allowed": 0.2}},
    }
    columns = AlertRule(name="c", metric="skew.missing_columns", above=0)
    unseen = AlertRule(name="u", metric="skew.unseen_share", above=0.1)
    missing = AlertRule(name="m", metric="skew.missing_share", above=0.25)
    assert read_rule(columns, window(skew=skew)).value == 1.0
    assert read_rule(unseen, window(skew=skew)).value == pytest.approx(0.2)
    assert read_rule(missing, window(skew=skew)).crossed
    slow = AlertRule(name="slow", metric="latency_p99_ms", above=50)
    assert read_rule(slow, window(latency={"p50_ms": 2.0, "p99_ms": 80.0})).crossed
    quiet = AlertRule(name="quiet", metric="count", below=1000)
    assert read_rule(quiet, window()).crossed


def test_defaults_depend_on_the_task_and_configured_rules_replace_them() -> None:
    assert [r.metric for r in default_rules("regression")] == [
        "drifted_features", "output_drifted", "performance.rmse",
    ]  # fmt: skip
    assert "estimated.accuracy" in [r.metric for r in default_rules("classification")]
    assert rules_for(MonitoringSettings(rules=[]), "regression") == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{name: a, metric: drifted_feature, above: 0}", "did you mean 'drifted_features'"),
        ("{name: a, metric: count, above: 1, below: 2}", "exactly one of above, below or drop"),
        ("{name: a, metric: count, drop: 0.1}", "performance.METRIC and estimated.METRIC"),
        ("{name: a, metric: 'drift.', above: 0.1}", "names no feature"),
    ],
)
def test_a_wrong_rule_is_refused_when_the_settings_load(rule: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f"name: p\nmonitoring:\n  rules: [{rule}]\n")
