"""What the monitoring report shows: each section's numbers, notes and figures.

Window results come from the monitor's JSON, in which any field may be null; every
reading here tolerates that and the page says what is missing instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shipyard.data.statistics import ColumnStatistics, DatasetStatistics
from shipyard.errors import DataError, SchemaMismatch
from shipyard.monitoring import _report_figures as figures
from shipyard.monitoring._report_figures import Figure, number

__all__ = ["FILTERS", "MAX_DISTRIBUTIONS", "ReportData", "distribution", "page_context"]


@dataclass(frozen=True)
class ReportData:
    """What a report draws; ``current`` merges the statistics of all its windows."""

    model: str
    reference: DatasetStatistics
    current: DatasetStatistics | None
    windows: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    generated_at: datetime


#: Distribution charts drawn at most; the rest are named in a note.
MAX_DISTRIBUTIONS = 30
#: Bins of a numeric distribution chart and values of a categorical one.
DISTRIBUTION_BINS = 20
DISTRIBUTION_TOP = 15
OTHER_LABEL = "other"


def page_context(data: ReportData) -> tuple[dict[str, Any], dict[str, Figure]]:
    """The template's variables and the figures keyed by the id of the div they draw in."""
    windows: list[Mapping[str, Any]] = [w for w in data.windows if isinstance(w, Mapping)]
    labels = _column_labels(windows)
    times = [_plot_time(_parse_time(window.get("end"))) for window in windows]
    charts: dict[str, Figure] = {}
    context: dict[str, Any] = {
        "model": data.model,
        "header": _header(windows, data.generated_at),
        "windows": len(windows),
        "drift": _drift_section(windows, labels, charts),
        "distributions": _distribution_section(data, windows, charts),
        "performance": _performance_section(windows, times, labels, charts),
        "output": _output_section(windows, times, charts),
        "latency": _latency_section(windows, times, charts),
        "skew": _skew_section(windows, labels),
        "alerts": _alerts_section(data.alerts),
    }
    context["summary"] = _summary(windows, labels, context)
    return context, charts


def distribution(
    reference: ColumnStatistics,
    current: ColumnStatistics,
    *,
    bins: int = DISTRIBUTION_BINS,
    top: int = DISTRIBUTION_TOP,
) -> dict[str, Any]:
    """Shares of a column's values on common ground, for drawing side by side.

    Numeric columns: ``bins`` equal-width bins over the union of both ranges, masses from
    the quantile sketches.  Other columns: the ``top`` values by their larger share on
    either side, then ``"other"`` for the rest.  Shares sum to 1 on each side.

    >>> import pandas as pd
    >>> from shipyard.data.statistics import compute_statistics
    >>> before = compute_statistics(pd.DataFrame({"c": ["a", "a", "b", "b"]}))["c"]
    >>> after = compute_statistics(pd.DataFrame({"c": ["a", "b", "b", "b"]}))["c"]
    >>> distribution(before, after)
    {'kind': 'categorical', 'values': ['b', 'a'], 'reference': [0.5, 0.5], 'current': [0.75, 0.25]}
    """
    if bins < 1 or top < 1:
        raise ValueError(f"bins and top must be at least 1, got bins={bins}, top={top}")
    if reference.is_numeric != current.is_numeric:
        raise SchemaMismatch(
            f"column {current.name!r} cannot be drawn against its reference: it is "
            f"{current.type} but the reference is {reference.type}",
            column=current.name,
        )
    for side, column in (("reference", reference), ("current", current)):
        if column.present == 0:
            raise DataError(f"column {column.name!r} has no values in the {side} statistics")
    if reference.numeric is not None and current.numeric is not None:
        return _numeric_distribution(reference, current, bins)
    if reference.categorical is not None and current.categorical is not None:
        return _categorical_distribution(reference, current, top)
    raise DataError(f"column {current.name!r} has no value summary to draw")


# -- distributions ------------------------------------------------------------------


def _numeric_distribution(
    reference: ColumnStatistics, current: ColumnStatistics, bins: int
) -> dict[str, Any]:
    assert reference.numeric is not None and current.numeric is not None
    low = min(reference.numeric.min, current.numeric.min)
    high = max(reference.numeric.max, current.numeric.max)
    edges = np.unique(np.linspace(low, high, bins + 1))
    if edges.size < 2:  # one value on both sides: one bin around it
        half = max(0.5, abs(low) * 1e-6)
        edges = np.array([low - half, low + half])
    # Intervals are [a, b): everything below the second edge falls in the first bin and
    # everything from the last inner edge up in the last, so both ranges are covered.
    inner = edges[1:-1].tolist()
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "reference": _normalised(reference.numeric.masses(inner).tolist()),
        "current": _normalised(current.numeric.masses(inner).tolist()),
    }


def _categorical_distribution(
    reference: ColumnStatistics, current: ColumnStatistics, top: int
) -> dict[str, Any]:
    sides = [_value_shares(reference), _value_shares(current)]
    values = sorted(
        set(sides[0]) | set(sides[1]),
        key=lambda value: (-max(sides[0].get(value, 0.0), sides[1].get(value, 0.0)), value),
    )[:top]
    shares = [[side.get(value, 0.0) for value in values] for side in sides]
    rests = [max(0.0, 1.0 - sum(side)) for side in shares]
    labels = list(values)
    if any(rest > 1e-9 for rest in rests):
        labels.append(OTHER_LABEL if OTHER_LABEL not in values else f"({OTHER_LABEL})")
        shares = [side + [rest] for side, rest in zip(shares, rests, strict=True)]
    return {
        "kind": "categorical",
        "values": labels,
        "reference": _normalised(shares[0]),
        "current": _normalised(shares[1]),
    }


def _value_shares(column: ColumnStatistics) -> dict[str, float]:
    assert column.categorical is not None
    total = column.categorical.total
    return {value: count / total for value, count in column.categorical.value_counts().items()}


def _normalised(masses: list[float]) -> list[float]:
    total = sum(masses)
    return [mass / total for mass in masses] if total > 0 else masses


# -- sections -----------------------------------------------------------------------


def _header(windows: list[Mapping[str, Any]], generated_at: datetime) -> dict[str, Any]:
    versions = _unique(str(window["version"]) for window in windows if window.get("version"))
    sizes = _unique(_window_size(window.get("window")) for window in windows)
    starts = [t for t in (_parse_time(window.get("start")) for window in windows) if t]
    ends = [t for t in (_parse_time(window.get("end")) for window in windows) if t]
    return {
        "versions": " → ".join(versions) if versions else "—",
        "versions_label": "Versions" if len(versions) > 1 else "Version",
        "time_range": (
            f"{_format_time(min(starts or ends))} – {_format_time(max(ends))}" if ends else "—"
        ),
        "window_size": ", ".join(size for size in sizes if size) or "—",
        "generated_at": _format_time(_as_utc(generated_at), seconds=True),
    }


def _drift_section(
    windows: list[Mapping[str, Any]], labels: list[str], charts: dict[str, Figure]
) -> dict[str, Any]:
    features = _feature_order(windows)
    section: dict[str, Any] = {"features": len(features), "not_enough": 0, "chart": None}
    if not features:
        return section
    ratios: list[list[float | None]] = []
    hover: list[list[str]] = []
    drifted: list[tuple[str, str]] = []
    for feature in features:
        row_ratio: list[float | None] = []
        row_hover: list[str] = []
        for window, label in zip(windows, labels, strict=True):
            result = _mapping(_mapping(window.get("features")).get(feature))
            ratio = _ratio(result)
            row_ratio.append(ratio)
            row_hover.append(_drift_hover(feature, label, result))
            if result and ratio is None:
                section["not_enough"] += 1
            if result.get("drifted"):
                drifted.append((label, feature))
        ratios.append(row_ratio)
        hover.append(row_hover)
    charts["chart-drift"] = figures.drift_heatmap(
        features=features, columns=labels, ratios=ratios, hover=hover, drifted=drifted
    )
    section["chart"] = "chart-drift"
    section["drifted_cells"] = len(drifted)
    section["marked"] = len(labels) <= figures.MAX_MARKED_WINDOWS
    return section


def _distribution_section(
    data: ReportData, windows: list[Mapping[str, Any]], charts: dict[str, Figure]
) -> dict[str, Any]:
    section: dict[str, Any] = {"cards": [], "hidden": [], "skipped": [], "available": False}
    if data.current is None or not windows:
        return section
    section["available"] = True
    latest = _mapping(windows[-1].get("features"))
    names = _feature_order(windows) or [
        name for name in data.reference.column_names if name in data.current
    ]
    for name in names:
        if name not in data.reference or name not in data.current:
            side = "training split" if name not in data.reference else "report windows"
            section["skipped"].append((name, f"not in the {side}"))
            continue
        if len(section["cards"]) == MAX_DISTRIBUTIONS:
            section["hidden"].append(name)
            continue
        reference, current = data.reference[name], data.current[name]
        problem = _undrawable(reference, current)
        if problem:
            section["skipped"].append((name, problem))
            continue
        shares = distribution(reference, current)
        chart_id = f"chart-distribution-{len(section['cards'])}"
        charts[chart_id] = figures.distribution_figure(shares)
        result = _mapping(latest.get(name))
        section["cards"].append(
            {
                "id": chart_id,
                "name": name,
                "kind": shares["kind"],
                "drifted": bool(result.get("drifted")),
                "score": number(result.get("score")),
                "threshold": number(result.get("threshold")),
                "metric": result.get("metric"),
                "status": result.get("status"),
            }
        )
    return section


def _performance_section(
    windows: list[Mapping[str, Any]],
    times: list[str],
    labels: list[str],
    charts: dict[str, Figure],
) -> dict[str, Any]:
    realised = [_mapping(window.get("performance")) for window in windows]
    estimated = [_mapping(window.get("estimated")) for window in windows]
    evaluation = [_mapping(window.get("evaluation")) for window in windows]
    has_feedback = any(realised)
    has_estimate = any(estimated)
    metrics = _unique(
        [
            *(
                m
                for perf in realised
                for m, v in perf.items()
                if number(_mapping(v).get("value")) is not None
            ),
            *(m for est in estimated for m, v in est.items() if number(v) is not None),
        ]
    )
    section: dict[str, Any] = {
        "charts": [],
        "has_feedback": has_feedback,
        "has_estimate": has_estimate,
        "latest": [],
    }
    for index, metric in enumerate(metrics):
        points = [_mapping(perf.get(metric)) for perf in realised]
        chart_id = f"chart-performance-{index}"
        charts[chart_id] = figures.performance_figure(
            metric=metric,
            x=times,
            realised=[number(point.get("value")) for point in points],
            lower=[number(point.get("lower")) for point in points],
            upper=[number(point.get("upper")) for point in points],
            counts=[_count(point.get("count")) for point in points],
            estimated=[number(est.get(metric)) for est in estimated],
            evaluation=[number(ev.get(metric)) for ev in evaluation],
        )
        section["charts"].append({"id": chart_id, "metric": metric})
        section["latest"].append(_latest_performance(metric, points, estimated, evaluation, labels))
    return section


def _latest_performance(
    metric: str,
    points: list[Mapping[str, Any]],
    estimated: list[Mapping[str, Any]],
    evaluation: list[Mapping[str, Any]],
    labels: list[str],
) -> dict[str, Any]:
    """The latest realised value and the estimate of the same window (else the latest)."""
    row: dict[str, Any] = {"metric": metric, "realised": None, "estimated": None}
    newest_first = list(reversed(range(len(points))))
    for index in newest_first:
        value = number(points[index].get("value"))
        if value is not None:
            row["realised"] = {
                "value": value,
                "lower": number(points[index].get("lower")),
                "upper": number(points[index].get("upper")),
                "count": _count(points[index].get("count")),
                "window": labels[index],
            }
            # Compare like with like: the estimate of the window whose realised value shows.
            newest_first = [index]
            break
    for index in newest_first:
        value = number(estimated[index].get(metric))
        if value is not None:
            row["estimated"] = {"value": value, "window": labels[index]}
            break
    known = [number(entry.get(metric)) for entry in evaluation]
    row["evaluation"] = next((value for value in reversed(known) if value is not None), None)
    return row


def _output_section(
    windows: list[Mapping[str, Any]], times: list[str], charts: dict[str, Figure]
) -> dict[str, Any]:
    outputs = [_mapping(window.get("output")) for window in windows]
    scores = [number(output.get("score")) for output in outputs]
    if not any(score is not None for score in scores):
        return {"chart": None, "windows": sum(1 for output in outputs if output)}
    charts["chart-output-drift"] = figures.output_drift_figure(
        x=times,
        scores=scores,
        thresholds=[number(output.get("threshold")) for output in outputs],
        drifted=[bool(output.get("drifted")) for output in outputs],
    )
    return {
        "chart": "chart-output-drift",
        "drifted": sum(1 for output in outputs if output.get("drifted")),
        "not_enough": sum(
            1 for output, s in zip(outputs, scores, strict=True) if output and s is None
        ),
    }


def _latency_section(
    windows: list[Mapping[str, Any]], times: list[str], charts: dict[str, Figure]
) -> dict[str, Any]:
    latency = [_mapping(window.get("latency")) for window in windows]
    p50 = [number(entry.get("p50_ms")) for entry in latency]
    p99 = [number(entry.get("p99_ms")) for entry in latency]
    rate = [number(entry.get("per_second")) for entry in latency]
    section: dict[str, Any] = {"latency": None, "throughput": None}
    if any(value is not None for value in [*p50, *p99]):
        charts["chart-latency"] = figures.latency_figure(x=times, p50=p50, p99=p99)
        section["latency"] = "chart-latency"
    if any(value is not None for value in rate):
        charts["chart-throughput"] = figures.throughput_figure(x=times, per_second=rate)
        section["throughput"] = "chart-throughput"
    return section


def _skew_section(windows: list[Mapping[str, Any]], labels: list[str]) -> dict[str, Any]:
    """The latest window's schema skew as rows of column, problem and detail."""
    if not windows:
        return {"window": None, "rows": [], "checked": False}
    skew = _mapping(windows[-1].get("skew"))
    rows = [
        _skew_row(column, "missing column", "absent from the requests")
        for column in skew.get("missing_columns") or []
    ]
    for entry in skew.get("type_mismatches") or []:
        mismatch = _mapping(entry)
        rows.append(
            _skew_row(
                mismatch.get("column"),
                "type mismatch",
                f"expected {mismatch.get('expected')}, found {mismatch.get('found')}",
            )
        )
    for column, entry in _mapping(skew.get("missing_share")).items():
        shares = _mapping(entry)
        current = number(shares.get("current"))
        if current:
            reference, allowed = number(shares.get("reference")), number(shares.get("allowed"))
            rows.append(
                _skew_row(
                    column,
                    "missing values",
                    f"{_percent(current)} missing (training split {_percent(reference)}, "
                    f"allowed {_percent(allowed)})",
                )
            )
    for key, problem, detail in (
        ("unseen_share", "unseen categories", "of values never seen in training"),
        ("out_of_range_share", "out of range", "of values outside the training range"),
    ):
        for column, value in _mapping(skew.get(key)).items():
            share = number(value)
            if share:
                rows.append(_skew_row(column, problem, f"{_percent(share)} {detail}"))
    return {"window": _ending(windows[-1], labels[-1]), "rows": rows, "checked": bool(skew)}


def _skew_row(column: Any, problem: str, detail: str) -> dict[str, str]:
    return {"column": str(column), "problem": problem, "detail": detail}


def _alerts_section(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Alert rows, open ones first, then the most recently opened."""
    dated: list[tuple[datetime, dict[str, str]]] = []
    for entry in alerts:
        alert = _mapping(entry)
        opened = _parse_time(alert.get("opened_at"))
        resolved = _parse_time(alert.get("resolved_at"))
        row = {
            key: "" if alert.get(key) is None else str(alert.get(key))
            for key in ("status", "severity", "rule", "metric", "version", "message")
        }
        row["opened"] = _format_time(opened) if opened else ""
        row["resolved"] = _format_time(resolved) if resolved else ""
        dated.append((opened or datetime.min.replace(tzinfo=UTC), row))
    dated.sort(key=lambda item: item[0], reverse=True)
    rows = [row for _, row in sorted(dated, key=lambda item: item[1]["status"] != "open")]
    open_rows = [row for row in rows if row["status"] == "open"]
    return {
        "rows": rows,
        "open": len(open_rows),
        "open_by_severity": _count_by(row["severity"] for row in open_rows),
    }


def _summary(
    windows: list[Mapping[str, Any]], labels: list[str], context: Mapping[str, Any]
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "windows": len(windows),
        "latest": _ending(windows[-1], labels[-1]) if windows else None,
    }
    if windows:
        features = _mapping(windows[-1].get("features"))
        drifted = [name for name, result in features.items() if _mapping(result).get("drifted")]
        if not features and windows[-1].get("drifted"):
            drifted = [str(name) for name in windows[-1]["drifted"]]
        summary["drifted"] = drifted
        summary["monitored"] = len(features)
    summary["open_alerts"] = context["alerts"]["open"]
    summary["open_by_severity"] = context["alerts"]["open_by_severity"]
    summary["performance"] = context["performance"]["latest"]
    return summary


# -- helpers ------------------------------------------------------------------------


def _feature_order(windows: list[Mapping[str, Any]]) -> list[str]:
    """Features of all windows, the latest window's drifted first, then by score ÷ threshold."""
    names = _unique(name for window in windows for name in _mapping(window.get("features")))
    latest = _mapping(windows[-1].get("features")) if windows else {}

    def key(name: str) -> tuple[bool, float]:
        result = _mapping(latest.get(name))
        ratio = _ratio(result)
        return (not result.get("drifted"), -(ratio if ratio is not None else -1.0))

    return sorted(names, key=key)


def _ratio(result: Mapping[str, Any]) -> float | None:
    score, threshold = number(result.get("score")), number(result.get("threshold"))
    if score is None or threshold is None or threshold <= 0:
        return None
    return score / threshold


def _drift_hover(feature: str, label: str, result: Mapping[str, Any]) -> str:
    head = f"<b>{figures.plot_text(feature)}</b><br>window ending {label}<br>"
    if not result:
        return head + "not monitored in this window"
    score, threshold = number(result.get("score")), number(result.get("threshold"))
    if score is None:
        status = figures.plot_text(result.get("status") or "no score")
        count = _count(result.get("count"))
        return head + status + ("" if count is None else f" ({count} values)")
    limit = "" if threshold is None else f" / threshold {threshold:.3f}"
    metric = figures.plot_text(result.get("metric") or "score")
    state = "drifted" if result.get("drifted") else "stable"
    return head + f"{metric} {score:.3f}{limit}<br>{state}"


def _column_labels(windows: list[Mapping[str, Any]]) -> list[str]:
    """Short distinct labels of window ends, for the heatmap's columns."""
    labels: list[str] = []
    for index, window in enumerate(windows):
        end = _parse_time(window.get("end"))
        label = _short_time(end) if end else f"window {index + 1}"
        candidate, repeat = label, 1
        while candidate in labels:
            repeat += 1
            candidate = f"{label} ({repeat})"
        labels.append(candidate)
    return labels


def _ending(window: Mapping[str, Any], label: str) -> str:
    """When a window ended, in full, or its label when it has no end."""
    end = _parse_time(window.get("end"))
    return _format_time(end) if end else label


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _plot_time(moment: datetime | None) -> str:
    """A time Plotly's date axis reads (it ignores zone offsets: all times are UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _format_time(moment: datetime, *, seconds: bool = False) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds or moment.second else "%Y-%m-%d %H:%M")
    return f"{text} UTC"


def _short_time(moment: datetime) -> str:
    """Month, day and time: the header gives the year."""
    return moment.strftime("%m-%d %H:%M:%S" if moment.second else "%m-%d %H:%M")


def _window_size(value: Any) -> str:
    if value is None or value == "":
        return ""
    text = str(value)
    return f"{text} predictions" if text.isdigit() else text


def _format_number(value: Any, digits: int = 3) -> str:
    result = number(value)
    return "—" if result is None else f"{result:.{digits}f}"


def _counted(count: int, noun: str) -> str:
    """``1 window``, ``2 windows``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _count(value: Any) -> int | None:
    result = number(value)
    return None if result is None else int(result)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _count_by(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _undrawable(reference: ColumnStatistics, current: ColumnStatistics) -> str:
    """Why a column's distribution cannot be drawn, or ``""``."""
    if reference.is_numeric != current.is_numeric:
        return f"{reference.type} in the training split, {current.type} in the report windows"
    if not current.present:
        return "no values in the report windows"
    if not reference.present:
        return "no values in the training split"
    return ""


#: Jinja filters the template formats numbers with.
FILTERS: dict[str, Callable[..., str]] = {
    "number": _format_number,
    "percent": _percent,
    "counted": _counted,
}
