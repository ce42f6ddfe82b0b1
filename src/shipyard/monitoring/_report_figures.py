"""Plotly figure specs for the monitoring report, as plain dicts.

Plotly's Python API is slow to import and not needed: a figure is JSON (``data`` and
``layout``) that the page hands to ``Plotly.newPlot``.  Plotly draws text as pseudo-HTML
(``<b>``, ``<br>``, entities), so every name that comes from data goes through
:func:`plot_text` and shows literally.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

Figure = dict[str, Any]

REFERENCE_COLOUR = "#64748b"
CURRENT_COLOUR = "#ea580c"
REALISED_COLOUR = "#2563eb"
ESTIMATED_COLOUR = "#9333ea"
EVALUATION_COLOUR = "#475569"
DRIFTED_COLOUR = "#dc2626"

#: Drifted heatmap cells are marked with a cross up to this many windows.
MAX_MARKED_WINDOWS = 72
#: Score / threshold is drawn from 0 to this; larger ratios take the darkest colour.
RATIO_CEILING = 2.0

_FONT = {
    "family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
    "size": 12,
    "color": "#1f2937",
}


def plot_text(value: object) -> str:
    """``value`` as text Plotly shows literally (its labels read ``<`` and ``&`` as markup)."""
    return html.escape(str(value), quote=False)


def number(value: Any) -> float | None:
    """A finite float, or None for null, NaN, infinities and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def base_layout(*, height: int, y_title: str = "", y_format: str = "") -> dict[str, Any]:
    """Layout every chart shares: quiet grid, legend on top, unified hover."""
    return {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 46, "b": 50},
        "font": _FONT,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "hovermode": "x unified",
        "xaxis": {"type": "date", "gridcolor": "#eef0f3", "title": {"text": "window end (UTC)"}},
        "yaxis": {
            "gridcolor": "#eef0f3",
            "zeroline": False,
            "title": {"text": y_title},
            "tickformat": y_format,
            "rangemode": "tozero",
        },
    }


def line(
    x: Sequence[str],
    y: Sequence[float | None],
    *,
    name: str,
    colour: str,
    dash: str = "solid",
    shape: str = "linear",
    markers: bool = True,
) -> dict[str, Any]:
    """A line trace; None values leave gaps."""
    return {
        "type": "scatter",
        "mode": "lines+markers" if markers else "lines",
        "x": list(x),
        "y": list(y),
        "name": name,
        "line": {"color": colour, "dash": dash, "shape": shape, "width": 2},
        "marker": {"size": 6},
        "connectgaps": False,
    }


def drift_heatmap(
    *,
    features: Sequence[str],
    columns: Sequence[str],
    ratios: Sequence[Sequence[float | None]],
    hover: Sequence[Sequence[str]],
    drifted: Sequence[tuple[str, str]],
) -> Figure:
    """Features (rows) by windows (columns), coloured by score / threshold.

    Cells without a score are null, which Plotly leaves empty over a grey background.
    ``drifted`` lists the (column, feature) cells to mark.
    """
    labels = [plot_text(name) for name in features]
    data: list[dict[str, Any]] = [
        {
            "type": "heatmap",
            "x": list(columns),
            "y": labels,
            "z": [list(row) for row in ratios],
            "text": [list(row) for row in hover],
            "hoverinfo": "text",
            "hoverongaps": True,
            "zmin": 0.0,
            "zmax": RATIO_CEILING,
            "xgap": 1 if len(columns) <= MAX_MARKED_WINDOWS else 0,
            "ygap": 1,
            "colorscale": [
                [0.0, "#f0f9ff"],
                [0.3, "#bae6fd"],
                [0.5, "#fde68a"],
                [0.75, "#f97316"],
                [1.0, "#991b1b"],
            ],
            "colorbar": {
                "title": {"text": "score ÷<br>threshold", "side": "top"},
                "tickvals": [0, 0.5, 1, 1.5, 2],
                "ticktext": ["0", "0.5", "1 = threshold", "1.5", "≥ 2"],
                "thickness": 14,
                "lenmode": "pixels",
                "len": 200,
                "y": 1,
                "yanchor": "top",
            },
            "name": "score ÷ threshold",
        }
    ]
    # Over many windows the cells get too narrow for a mark; colour alone tells drift.
    if drifted and len(columns) <= MAX_MARKED_WINDOWS:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [column for column, _ in drifted],
                "y": [plot_text(feature) for _, feature in drifted],
                "name": "drifted",
                "hoverinfo": "skip",
                "marker": {
                    "symbol": "x-thin",
                    "size": max(5, min(9, 480 // max(len(columns), 1))),
                    "line": {"width": 2, "color": "#111827"},
                },
            }
        )
    return {
        "data": data,
        "layout": {
            "height": max(260, 26 * len(features) + 140),
            "margin": {"l": 20, "r": 20, "t": 30, "b": 90},
            "font": _FONT,
            "paper_bgcolor": "#ffffff",
            # Null cells (not enough data) show the plot background through.
            "plot_bgcolor": "#d1d5db",
            "showlegend": False,
            # Fixed ranges: the markers' padding would otherwise widen the grid.
            "xaxis": {
                "type": "category",
                "tickangle": -40,
                "nticks": 24,
                "showgrid": False,
                "range": [-0.5, len(columns) - 0.5],
                "automargin": True,
            },
            "yaxis": {
                "type": "category",
                "range": [len(features) - 0.5, -0.5],  # first feature on top
                "automargin": True,
                "showgrid": False,
            },
        },
    }


def distribution_figure(shares: dict[str, Any]) -> Figure:
    """Reference against current shares: overlaid bars on bins, or grouped bars on values."""
    traces: list[dict[str, Any]] = []
    x_axis: dict[str, Any]
    if shares["kind"] == "numeric":
        edges = shares["edges"]
        centres = [(low + high) / 2 for low, high in zip(edges, edges[1:], strict=False)]
        widths = [high - low for low, high in zip(edges, edges[1:], strict=False)]
        hover = [f"{low:.4g} to {high:.4g}" for low, high in zip(edges, edges[1:], strict=False)]
        for side, colour, name in (
            ("reference", REFERENCE_COLOUR, "reference (training split)"),
            ("current", CURRENT_COLOUR, "current (report windows)"),
        ):
            traces.append(
                {
                    "type": "bar",
                    "x": centres,
                    "y": shares[side],
                    "width": widths,
                    "name": name,
                    "marker": {"color": colour},
                    "opacity": 0.55,
                    "text": hover,
                    "hovertemplate": "%{text}: %{y:.1%}<extra>" + name + "</extra>",
                    "textposition": "none",
                }
            )
        barmode, x_axis = "overlay", {"type": "linear", "gridcolor": "#eef0f3"}
    else:
        values = [plot_text(value) for value in shares["values"]]
        for side, colour, name in (
            ("reference", REFERENCE_COLOUR, "reference (training split)"),
            ("current", CURRENT_COLOUR, "current (report windows)"),
        ):
            traces.append(
                {
                    "type": "bar",
                    "x": values,
                    "y": shares[side],
                    "name": name,
                    "marker": {"color": colour},
                    "hovertemplate": "%{x}: %{y:.1%}<extra>" + name + "</extra>",
                }
            )
        barmode, x_axis = "group", {"type": "category", "tickangle": -30, "automargin": True}
    return {
        "data": traces,
        # Small multiples: the mode bar would cover the bars.
        "config": {"displayModeBar": False},
        "layout": {
            "height": 260,
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "font": _FONT,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "barmode": barmode,
            "bargap": 0.05 if barmode == "overlay" else 0.2,
            "showlegend": False,
            "xaxis": x_axis,
            "yaxis": {"tickformat": ".0%", "gridcolor": "#eef0f3", "rangemode": "tozero"},
        },
    }


def performance_figure(
    *,
    metric: str,
    x: Sequence[str],
    realised: Sequence[float | None],
    lower: Sequence[float | None],
    upper: Sequence[float | None],
    counts: Sequence[int | None],
    estimated: Sequence[float | None],
    evaluation: Sequence[float | None],
) -> Figure:
    """Realised metric with its interval, the label-free estimate and the evaluation line."""
    traces: list[dict[str, Any]] = []
    if any(value is not None for value in evaluation):
        traces.append(
            line(
                x,
                evaluation,
                name="evaluation (test split)",
                colour=EVALUATION_COLOUR,
                dash="dot",
                shape="hv",
                markers=False,
            )
        )
    if any(value is not None for value in realised):
        trace = line(x, realised, name="realised (feedback)", colour=REALISED_COLOUR)
        trace["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": [_gap(value, high) for value, high in zip(realised, upper, strict=True)],
            "arrayminus": [_gap(low, value) for value, low in zip(realised, lower, strict=True)],
            "color": REALISED_COLOUR,
            "thickness": 1.5,
            "width": 4,
        }
        trace["customdata"] = [
            [_interval(low, high), "" if count is None else f"n = {count}"]
            for low, high, count in zip(lower, upper, counts, strict=True)
        ]
        trace["hovertemplate"] = "%{y:.3f} %{customdata[0]} %{customdata[1]}"
        traces.append(trace)
    if any(value is not None for value in estimated):
        trace = line(x, estimated, name="estimated (no labels)", colour=ESTIMATED_COLOUR)
        trace["line"]["dash"] = "dash"
        trace["hovertemplate"] = "%{y:.3f}"
        traces.append(trace)
    layout = base_layout(height=300, y_title=plot_text(metric))
    layout["yaxis"]["rangemode"] = "normal"
    return {"data": traces, "layout": layout}


def output_drift_figure(
    *,
    x: Sequence[str],
    scores: Sequence[float | None],
    thresholds: Sequence[float | None],
    drifted: Sequence[bool],
) -> Figure:
    """Output drift score per window against its threshold, drifted windows in red."""
    score = line(x, scores, name="output drift score", colour=REALISED_COLOUR)
    score["hovertemplate"] = "%{y:.3f}"
    threshold = line(
        x, thresholds, name="threshold", colour=DRIFTED_COLOUR, dash="dash", shape="hv"
    )
    threshold["mode"] = "lines"
    threshold["hovertemplate"] = "%{y:.3f}"
    traces = [score, threshold]
    marked = [(when, value) for when, value, flag in zip(x, scores, drifted, strict=True) if flag]
    if marked:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [when for when, _ in marked],
                "y": [value for _, value in marked],
                "name": "drifted",
                "marker": {"color": DRIFTED_COLOUR, "size": 11, "symbol": "circle-open"},
                "hoverinfo": "skip",
            }
        )
    return {"data": traces, "layout": base_layout(height=300, y_title="drift score")}


def latency_figure(
    *, x: Sequence[str], p50: Sequence[float | None], p99: Sequence[float | None]
) -> Figure:
    """p50 and p99 prediction latency per window, in milliseconds."""
    median = line(x, p50, name="p50", colour=REALISED_COLOUR)
    tail = line(x, p99, name="p99", colour=DRIFTED_COLOUR)
    for trace in (median, tail):
        trace["hovertemplate"] = "%{y:.3g} ms"
    return {"data": [median, tail], "layout": base_layout(height=280, y_title="latency (ms)")}


def throughput_figure(*, x: Sequence[str], per_second: Sequence[float | None]) -> Figure:
    """Predictions per second per window."""
    trace = line(x, per_second, name="predictions / s", colour="#059669")
    trace["hovertemplate"] = "%{y:.3g} / s"
    trace["fill"] = "tozeroy"
    trace["fillcolor"] = "rgba(5, 150, 105, 0.08)"
    layout = base_layout(height=280, y_title="predictions per second")
    layout["showlegend"] = False
    return {"data": [trace], "layout": layout}


def _gap(low: float | None, high: float | None) -> float | None:
    """Length of an error bar, or None when either end is unknown."""
    if low is None or high is None:
        return None
    return max(high - low, 0.0)


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"[{low:.3f}, {high:.3f}]"
