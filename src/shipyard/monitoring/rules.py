"""Alert rules read against a window: the metric's value, whether it crosses its bound.

A realised metric (``performance.accuracy``) carries a confidence interval; it crosses a
bound only when its whole interval does, so thirty labels cannot raise an alarm by
themselves, however bad they look.  A window that cannot tell (no labels yet, too few
values for a drift score) neither opens nor resolves an alert.

Without rules in ``shipyard.yaml`` every model gets the defaults of ``default_rules``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.config import AlertRule, MonitoringSettings, Task

__all__ = ["HIGHER_IS_BETTER", "Reading", "default_rules", "read_rule", "rules_for"]

HIGHER_IS_BETTER = frozenset({"accuracy", "f1", "roc_auc", "r2"})
"""Metrics that get better as they grow; the others (rmse, mae) as they shrink."""


def default_rules(task: Task) -> list[AlertRule]:
    """Any drifted feature or drifted answers (warnings); realised performance 10% worse
    than at evaluation (critical); for classifiers the estimate 10% worse (warning)."""
    primary = "accuracy" if task == "classification" else "rmse"
    rules = [
        AlertRule(name="data_drift", metric="drifted_features", above=0),
        AlertRule(name="output_drift", metric="output_drifted", above=0),
        AlertRule(
            name="performance", metric=f"performance.{primary}", drop=0.1, severity="critical"
        ),
    ]
    if task == "classification":
        rules.append(AlertRule(name="estimated_performance", metric="estimated.accuracy", drop=0.1))
    return rules


def rules_for(settings: MonitoringSettings, task: Task) -> list[AlertRule]:
    """The configured rules, or the defaults when ``shipyard.yaml`` sets none."""
    return default_rules(task) if settings.rules is None else list(settings.rules)


@dataclass(frozen=True)
class Reading:
    """A rule read against one window: ``crossed`` is None when the window cannot tell."""

    value: float | None
    crossed: bool | None
    message: str


def read_rule(rule: AlertRule, window: dict[str, Any]) -> Reading:
    """Read ``rule`` against a window (its stored result, plus ``count``)."""
    family, _, name = rule.metric.partition(".")
    if family in ("performance", "estimated") and name:
        return _read_performance(rule, window, family, name)
    value, detail = _value(rule.metric, window)
    if value is None:
        return Reading(None, None, f"{rule.metric}: {detail}")
    if rule.above is not None:
        crossed = value > rule.above
        bound = f"above {rule.above:g}"
    else:
        assert rule.below is not None
        crossed = value < rule.below
        bound = f"below {rule.below:g}"
    return Reading(value, crossed, f"{rule.metric} is {value:.4g}{detail} ({bound} alerts)")


def _value(metric: str, window: dict[str, Any]) -> tuple[float | None, str]:
    """A plain metric's value in the window and a few words of detail."""
    features = window.get("features") or {}
    if metric in ("drifted_features", "drift_share"):
        share = window.get("drift_share")
        if share is None:
            return None, "no feature had enough data"
        drifted = window.get("drifted") or []
        detail = ": " + ", ".join(_feature_detail(name, features[name]) for name in drifted)
        value = float(len(drifted)) if metric == "drifted_features" else float(share)
        return value, detail if drifted else ""
    if metric.startswith("drift."):
        feature = features.get(metric.partition(".")[2])
        if feature is None:
            return None, "the feature is not in the window"
        if feature["score"] is None:
            return None, "not enough data"
        return float(feature["score"]), f" (threshold {feature['threshold']:.3f})"
    if metric in ("output_drift", "output_drifted"):
        output = window.get("output")
        if output is None or output["score"] is None:
            return None, "not enough answers to compare"
        if metric == "output_drift":
            return float(output["score"]), f" (threshold {output['threshold']:.3f})"
        return float(output["drifted"]), (
            f": the answers moved {output['score']:.3f} from the eval split's "
            f"(threshold {output['threshold']:.3f})"
        )
    if metric.startswith("skew."):
        skew = window.get("skew") or {}
        found = skew.get(metric.partition(".")[2])
        if isinstance(found, list):
            return float(len(found)), ""
        if isinstance(found, dict):
            shares = [v["current"] if isinstance(v, dict) else v for v in found.values()]
            worst = max(shares, default=0.0)
            return float(worst), ""
        return 0.0, ""
    if metric in ("latency_p50_ms", "latency_p99_ms"):
        latency = (window.get("latency") or {}).get(metric.removeprefix("latency_"))
        return (None, "no latency was logged") if latency is None else (float(latency), " ms")
    if metric == "count":
        return float(window.get("count") or 0), ""
    return None, "unknown metric"


def _feature_detail(name: str, feature: dict[str, Any]) -> str:
    return f"{name} ({feature['score']:.3f} > {feature['threshold']:.3f})"


def _read_performance(rule: AlertRule, window: dict[str, Any], family: str, name: str) -> Reading:
    found = (window.get(family) or {}).get(name)
    if found is None:
        why = "no labels yet" if family == "performance" else "no estimate for this model"
        return Reading(None, None, f"{rule.metric}: {why}")
    if family == "performance":
        value, lower, upper = found["value"], found["lower"], found["upper"]
        shown = f"{value:.4g} [{lower:.4g}, {upper:.4g}] on {found['count']} labels"
    else:
        value = lower = upper = float(found)
        shown = f"{value:.4g} (estimated without labels)"
    if rule.drop is not None:
        evaluated = (window.get("evaluation") or {}).get(name)
        if evaluated is None:
            return Reading(value, None, f"{rule.metric}: the version has no evaluation {name}")
        if name in HIGHER_IS_BETTER:
            bound = evaluated * (1 - rule.drop)
            crossed = upper < bound
            relation = f"below {bound:.4g}"
        else:
            bound = evaluated * (1 + rule.drop)
            crossed = lower > bound
            relation = f"above {bound:.4g}"
        return Reading(
            value,
            crossed,
            f"{name} is {shown}; evaluation {evaluated:.4g}, {rule.drop:.0%} worse is {relation}",
        )
    if rule.above is not None:
        return Reading(
            value, lower > rule.above, f"{name} is {shown} (above {rule.above:g} alerts)"
        )
    assert rule.below is not None
    return Reading(value, upper < rule.below, f"{name} is {shown} (below {rule.below:g} alerts)")
