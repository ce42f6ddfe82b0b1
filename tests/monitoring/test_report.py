"""The monitoring report: one offline HTML file whose charts carry the windows' numbers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.data.statistics import DatasetStatistics, compute_statistics
from shipyard.errors import DataError, SchemaMismatch, ShipyardError
from shipyard.monitoring import report
from shipyard.monitoring.report import (
    MAX_DISTRIBUTIONS,
    ReportData,
    distribution,
    render_report,
    script_json,
    write_report,
)

HOSTILE = "<script>x</script>"
START = datetime(2026, 12, 1, 10, tzinfo=UTC)
MakeWindow = Callable[..., dict[str, Any]]


# -- fixtures and helpers -----------------------------------------------------------


def _frame(rows: int, *, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Lot_Area": rng.normal(10_000 + 4_000 * shift, 2_000, rows),
            "Year_Built": rng.integers(1900, 2010, rows),
            "Street": rng.choice(["Pave", "Grvl"], rows, p=[0.9 - 0.4 * shift, 0.1 + 0.4 * shift]),
            HOSTILE: rng.choice(["a&b", "<i>", "c"], rows),
        }
    )


@pytest.fixture(scope="module")
def reference() -> DatasetStatistics:
    return compute_statistics(_frame(800, shift=0.0, seed=1))


@pytest.fixture(scope="module")
def current() -> DatasetStatistics:
    return compute_statistics(_frame(600, shift=1.0, seed=2))


def _feature(score: float | None, *, threshold: float = 0.1, metric: str = "jensen_shannon"):
    if score is None:
        status, drifted = "not enough data", False
    else:
        drifted = score > threshold
        status = "drifted" if drifted else "stable"
    return {
        "type": "numeric" if metric == "jensen_shannon" else "categorical",
        "metric": metric,
        "score": score,
        "threshold": threshold,
        "drifted": drifted,
        "status": status,
        "count": 20 if score is None else 5000,
        "reference_count": 800,
    }


@pytest.fixture
def make_window() -> MakeWindow:
    """A window result as the monitor writes it; keyword arguments replace its fields."""

    def make(index: int, **fields: Any) -> dict[str, Any]:
        start = START + timedelta(hours=index)
        window: dict[str, Any] = {
            "model": "ames",
            "version": 3,
            "window": "1h",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "count": 5000,
            "features": {
                "Lot_Area": _feature(0.05 + 0.05 * index),
                "Year_Built": _feature(0.02),
                "Street": _feature(0.04, metric="linf"),
                HOSTILE: _feature(0.01, metric="linf"),
            },
            "drift_share": 0.25,
            "drifted": [],
            "output": {
                "score": 0.03 * (index + 1),
                "threshold": 0.1,
                "drifted": 0.03 * (index + 1) > 0.1,
                "status": "stable",
                "count": 5000,
                "reference_count": 500,
            },
            "skew": {
                "missing_columns": [],
                "type_mismatches": [{"column": "x", "expected": "float", "found": "str"}],
                "unseen_share": {"Street": 0.01},
                "missing_share": {"x": {"current": 0.1, "reference": 0.0, "allowed": 0.0}},
                "out_of_range_share": {"Lot_Area": 0.02},
            },
            "performance": {
                "accuracy": {
                    "value": 0.9 - 0.01 * index,
                    "lower": 0.85 - 0.01 * index,
                    "upper": 0.93 - 0.01 * index,
                    "count": 300,
                }
            },
            "estimated": {"accuracy": 0.91 - 0.01 * index, "f1": 0.88, "roc_auc": 0.95},
            "evaluation": {"accuracy": 0.93, "f1": 0.9},
            "latency": {"p50_ms": 0.4 + index, "p99_ms": 2.1 + index, "per_second": 12.5 + index},
            "alerts": [],
        }
        window.update(fields)
        return window

    return make


def _data(
    reference: DatasetStatistics,
    current: DatasetStatistics | None,
    windows: list[dict[str, Any]],
    alerts: list[dict[str, Any]] | None = None,
    *,
    model: str = "ames",
) -> ReportData:
    return ReportData(
        model=model,
        reference=reference,
        current=current,
        windows=windows,
        alerts=alerts or [],
        generated_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
    )


def _figures(page: str) -> dict[str, Any]:
    """The figure specs the page embeds, parsed back."""
    found = re.search(
        r'<script type="application/json" id="shipyard-figures">(.*?)</script>', page, re.S
    )
    assert found is not None
    figures: dict[str, Any] = json.loads(found.group(1))
    return figures


class _Elements(HTMLParser):
    """Start tags with their attributes (script bodies are not parsed as markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def _plotly_bundle() -> str:
    return report._plotly_js()


# -- the page -----------------------------------------------------------------------


def test_the_page_loads_nothing_from_the_network_and_inlines_plotly_once(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    page = render_report(_data(reference, current, [make_window(0), make_window(1)]))

    for tag, attrs in _elements(page):
        for attribute in ("src", "href"):
            target = attrs.get(attribute) or ""
            assert not re.match(r"\s*(https?:)?//", target), (tag, attrs)
    scripts = [attrs for tag, attrs in _elements(page) if tag == "script"]
    assert all("src" not in attrs for attrs in scripts)
    assert not [tag for tag, _ in _elements(page) if tag in ("link", "img", "iframe")]
    bundle = _plotly_bundle()
    assert len(bundle) > 1_000_000
    assert page.count(bundle[:3000]) == 1
    assert page.count(bundle[-3000:]) == 1
    assert "Plotly.newPlot" in page


def test_every_section_has_its_chart_div_and_figure(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    page = render_report(_data(reference, current, [make_window(i) for i in range(3)]))
    figures = _figures(page)

    expected = {
        "chart-drift",
        "chart-performance-0",
        "chart-output-drift",
        "chart-latency",
        "chart-throughput",
        *(f"chart-distribution-{i}" for i in range(4)),
    }
    assert expected <= set(figures)
    ids = {attrs.get("id") for tag, attrs in _elements(page) if tag == "div"}
    assert set(figures) <= ids  # every figure has a div to draw in
    for figure in figures.values():
        assert figure["data"] and "layout" in figure


def test_heatmap_colour_is_score_over_threshold_with_drifted_cells_marked(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    # Lot_Area scores 0.05, 0.10, 0.15, 0.20: over its threshold 0.1 in the last two.
    windows = [make_window(i) for i in range(4)]
    windows[1]["features"]["Year_Built"] = _feature(None)
    windows[2]["features"]["Street"] = _feature(0.3, threshold=0.2, metric="linf")
    heatmap, marks = _figures(render_report(_data(reference, current, windows)))["chart-drift"][
        "data"
    ]

    rows = dict(zip(heatmap["y"], heatmap["z"], strict=True))
    assert rows["Lot_Area"] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert rows["Street"][2] == pytest.approx(0.3 / 0.2)
    assert rows["Year_Built"][1] is None  # not enough data: an empty (grey) cell
    assert "not enough data" in heatmap["text"][heatmap["y"].index("Year_Built")][1]
    columns = heatmap["x"]
    assert len(columns) == 4
    drifted = set(zip(marks["x"], marks["y"], strict=True))
    assert drifted == {
        (columns[2], "Lot_Area"),
        (columns[3], "Lot_Area"),
        (columns[2], "Street"),
    }
    # The latest window's drifted feature comes first, then by score / threshold.
    assert heatmap["y"][0] == "Lot_Area"
    assert heatmap["y"].index("Street") < heatmap["y"].index("Year_Built")


def test_distributions_show_drifted_features_first_and_carry_both_sides(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    window = make_window(0)
    window["features"]["Street"] = _feature(0.4, metric="linf")
    figures = _figures(render_report(_data(reference, current, [window])))

    street = figures["chart-distribution-0"]["data"]
    assert [trace["x"] for trace in street] == [["Pave", "Grvl"]] * 2
    expected = distribution(reference["Street"], current["Street"])
    assert street[0]["y"] == pytest.approx(expected["reference"])
    assert street[1]["y"] == pytest.approx(expected["current"])
    assert street[1]["y"][1] > street[0]["y"][1]  # Grvl grew
    lot_area = next(
        figure["data"]
        for key, figure in figures.items()
        if key.startswith("chart-distribution") and figure["layout"]["barmode"] == "overlay"
    )
    assert sum(lot_area[0]["y"]) == pytest.approx(1.0)
    assert len(lot_area[0]["x"]) == len(lot_area[0]["width"]) == 20


def test_distributions_stop_at_thirty_features_with_a_note(make_window: MakeWindow) -> None:
    names = [f"f{i:02d}" for i in range(MAX_DISTRIBUTIONS + 5)]
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({name: rng.normal(size=50) for name in names})
    stats = compute_statistics(frame)
    window = make_window(0, features={name: _feature(0.01 * i) for i, name in enumerate(names)})
    page = render_report(_data(stats, stats, [window]))

    drawn = [key for key in _figures(page) if key.startswith("chart-distribution")]
    assert len(drawn) == MAX_DISTRIBUTIONS
    # Highest scores first: the five lowest are the ones left out, and named.
    assert "5 more features not drawn" in page
    assert "f04, f03, f02, f01, f00" in page


def test_performance_chart_has_realised_interval_estimate_and_evaluation(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    windows = [make_window(0), make_window(1, performance=None), make_window(2)]
    figures = _figures(render_report(_data(reference, current, windows)))

    charts = [figures[key] for key in figures if key.startswith("chart-performance")]
    by_metric = {figure["layout"]["yaxis"]["title"]["text"]: figure for figure in charts}
    assert set(by_metric) == {"accuracy", "f1", "roc_auc"}  # realised or estimated ones
    traces = {trace["name"]: trace for trace in by_metric["accuracy"]["data"]}
    realised = traces["realised (feedback)"]
    assert realised["y"][0] == pytest.approx(0.9) and realised["y"][2] == pytest.approx(0.88)
    assert realised["y"][1] is None  # no feedback in that window: a gap
    assert realised["error_y"]["array"][0] == pytest.approx(0.03)
    assert realised["error_y"]["arrayminus"][0] == pytest.approx(0.05)
    assert traces["estimated (no labels)"]["y"] == pytest.approx([0.91, 0.90, 0.89])
    assert traces["evaluation (test split)"]["y"] == [0.93, 0.93, 0.93]
    f1 = {trace["name"] for trace in by_metric["f1"]["data"]}
    assert f1 == {"estimated (no labels)", "evaluation (test split)"}


def test_output_drift_latency_and_throughput_series(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    windows = [make_window(i) for i in range(4)]
    windows[1]["output"] = {"score": None, "threshold": 0.1, "drifted": False}
    figures = _figures(render_report(_data(reference, current, windows)))

    output = {trace["name"]: trace for trace in figures["chart-output-drift"]["data"]}
    assert output["output drift score"]["y"] == pytest.approx([0.03, None, 0.09, 0.12])
    assert output["threshold"]["y"] == [0.1] * 4
    assert output["drifted"]["y"] == pytest.approx([0.12])
    assert output["output drift score"]["x"][0] == "2026-12-01 11:00:00"
    latency = {trace["name"]: trace["y"] for trace in figures["chart-latency"]["data"]}
    assert latency == {"p50": [0.4, 1.4, 2.4, 3.4], "p99": [2.1, 3.1, 4.1, 5.1]}
    assert figures["chart-throughput"]["data"][0]["y"] == [12.5, 13.5, 14.5, 15.5]


def test_header_summary_skew_and_alerts(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    windows = [make_window(0, version=2), make_window(1)]
    windows[1]["features"]["Lot_Area"] = _feature(0.3)
    alerts = [
        {
            "id": 1,
            "rule": "latency",
            "metric": "p99_ms",
            "severity": "critical",
            "status": "resolved",
            "opened_at": "2026-12-01T10:30:00+00:00",
            "resolved_at": "2026-12-01T11:10:00+00:00",
            "message": "p99 over 2 ms",
            "version": 2,
        },
        {
            "id": 2,
            "rule": "data_drift",
            "metric": "drifted_features",
            "severity": "warning",
            "status": "open",
            "opened_at": "2026-12-01T09:00:00+00:00",
            "resolved_at": None,
            "message": "Lot_Area drifted",
            "version": 3,
        },
    ]
    page = render_report(_data(reference, current, windows, alerts))

    assert "2 → 3" in page
    assert "2026-12-01 10:00 UTC – 2026-12-01 12:00 UTC" in page
    assert "2026-12-02 09:30:00 UTC" in page
    assert ">1h<" in page
    assert "expected float, found str" in page
    assert "10.0% missing (training split 0.0%, allowed 0.0%)" in page
    assert "2.0% of values outside the training range" in page
    # The open alert is listed before the resolved one, although it opened earlier.
    assert page.index("Lot_Area drifted") < page.index("p99 over 2 ms")
    assert "1 warning" in page
    summary = page[page.index('id="summary"') : page.index('id="drift"')]
    assert re.search(r"0\.890.*0\.900", summary, re.S)  # realised, then estimated, window 2


def test_names_with_html_characters_are_shown_not_run(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    window = make_window(0)
    window["features"][HOSTILE] = _feature(0.5, metric="linf")
    alert = {
        "id": 1,
        "rule": "data_drift",
        "metric": "drifted_features",
        "severity": "warning",
        "status": "open",
        "opened_at": "2026-12-01T09:00:00+00:00",
        "resolved_at": None,
        "message": '<img src=x onerror="alert(1)"> drifted',
        "version": 3,
    }
    page = render_report(_data(reference, current, [window], [alert], model="<b>m</b>"))

    assert HOSTILE not in page
    assert "<img" not in page and "<b>m</b>" not in page
    assert [tag for tag, _ in _elements(page) if tag == "script"] == ["script"] * 3
    assert not [tag for tag, _ in _elements(page) if tag in ("img", "b")]
    assert "&lt;script&gt;x&lt;/script&gt;" in page  # shown as text in the page
    assert "&lt;b&gt;m&lt;/b&gt;" in page
    figures = _figures(page)
    # Plotly reads labels as markup: it gets entities, which it shows literally.
    assert figures["chart-drift"]["data"][0]["y"][0] == "&lt;script&gt;x&lt;/script&gt;"
    values = figures["chart-distribution-0"]["data"][0]["x"]
    assert set(values) == {"a&amp;b", "&lt;i&gt;", "c"}


def test_script_json_hides_markup_characters() -> None:
    value = {"name": "</script><!-- & \u2028", "n": 1.5}
    text = script_json(value)
    assert not set("<>&\u2028") & set(text)
    assert json.loads(text) == value
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})


# -- empty states -------------------------------------------------------------------


def test_a_model_without_windows_renders_empty_states(reference: DatasetStatistics) -> None:
    page = render_report(_data(reference, None, []))

    assert _figures(page) == {}
    assert "Nothing has been monitored yet." in page
    assert page.count("No windows yet.") >= 5
    assert "No alerts" in page
    assert "Plotly.newPlot" in page


def test_without_labels_the_report_says_no_feedback_yet(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    windows = [make_window(i, performance=None) for i in range(2)]
    page = render_report(_data(reference, current, windows))

    assert "No feedback yet" in page
    summary = page[page.index('id="summary"') : page.index('id="drift"')]
    assert "no feedback yet" in summary
    figures = _figures(page)
    for key in (key for key in figures if key.startswith("chart-performance")):
        names = {trace["name"] for trace in figures[key]["data"]}
        assert "realised (feedback)" not in names


def test_a_regressor_has_no_estimate_and_says_so(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    rmse = {"rmse": {"value": 21_000.0, "lower": 19_000.0, "upper": 23_000.0, "count": 200}}
    regressor = [make_window(i, estimated=None, performance=rmse) for i in range(2)]
    page = render_report(_data(reference, current, regressor))
    assert "regression models have none" in page
    figures = _figures(page)
    assert [trace["name"] for trace in figures["chart-performance-0"]["data"]] == [
        "realised (feedback)"
    ]

    unlabelled = [make_window(i, estimated=None, performance=None) for i in range(2)]
    page = render_report(_data(reference, current, unlabelled))
    assert "No feedback yet" in page and "regression models have none" in page
    assert not [key for key in _figures(page) if key.startswith("chart-performance")]


def test_windows_with_null_fields_still_render(
    reference: DatasetStatistics, current: DatasetStatistics, make_window: MakeWindow
) -> None:
    windows = [
        make_window(
            0,
            features=None,
            output=None,
            skew=None,
            performance=None,
            estimated=None,
            evaluation=None,
            latency=None,
            drifted=None,
        )
    ]
    page = render_report(_data(reference, current, windows))
    assert "No feature drift was computed" in page
    assert "No output drift scored" in page
    assert "No latency recorded" in page
    assert "The latest window has no schema check." in page


# -- distribution -------------------------------------------------------------------


def test_numeric_distribution_covers_both_ranges_on_common_bins() -> None:
    before = compute_statistics(pd.DataFrame({"x": np.linspace(0.0, 10.0, 500)}))["x"]
    after = compute_statistics(pd.DataFrame({"x": np.linspace(10.0, 20.0, 500)}))["x"]
    shares = distribution(before, after, bins=10)

    assert shares["kind"] == "numeric"
    assert shares["edges"] == pytest.approx(np.linspace(0.0, 20.0, 11).tolist())
    assert sum(shares["reference"]) == pytest.approx(1.0)
    assert sum(shares["current"]) == pytest.approx(1.0)
    # Disjoint ranges: the reference's mass sits in the lower half, the current's above.
    assert sum(shares["reference"][:5]) == pytest.approx(1.0, abs=0.02)
    assert sum(shares["current"][5:]) == pytest.approx(1.0, abs=0.02)


def test_a_constant_column_gets_one_bin_around_its_value() -> None:
    column = compute_statistics(pd.DataFrame({"x": [3.0] * 10}))["x"]
    shares = distribution(column, column)
    low, high = shares["edges"]
    assert low < 3.0 < high
    assert shares["reference"] == shares["current"] == [1.0]


@settings(max_examples=25, deadline=None)
@given(
    left=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    right=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    bins=st.integers(1, 30),
)
def test_numeric_shares_sum_to_one_and_bins_cover_both_sides(
    left: list[float], right: list[float], bins: int
) -> None:
    before = compute_statistics(pd.DataFrame({"x": left}))["x"]
    after = compute_statistics(pd.DataFrame({"x": right}))["x"]
    shares = distribution(before, after, bins=bins)

    edges = shares["edges"]
    assert edges[0] <= min(left + right) and edges[-1] >= max(left + right)
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
    for side in ("reference", "current"):
        assert len(shares[side]) == len(edges) - 1
        assert min(shares[side]) >= 0
        assert sum(shares[side]) == pytest.approx(1.0)


def test_categorical_distribution_keeps_the_top_values_and_pools_the_rest() -> None:
    before = pd.DataFrame({"c": [f"v{i:02d}" for i in range(30) for _ in range(i + 1)]})
    after = pd.DataFrame({"c": ["new"] * 200 + ["v29"] * 10 + ["v00"] * 5})
    shares = distribution(compute_statistics(before)["c"], compute_statistics(after)["c"], top=15)

    assert shares["kind"] == "categorical"
    assert len(shares["values"]) == 16 and shares["values"][-1] == "other"
    assert shares["values"][0] == "new"  # the largest share on either side leads
    assert "v29" in shares["values"] and "v00" not in shares["values"]
    for side in ("reference", "current"):
        assert sum(shares[side]) == pytest.approx(1.0)
    assert shares["current"][-1] == pytest.approx(5 / 215)  # v00 falls into "other"
    assert shares["reference"][0] == 0.0


def test_distribution_refuses_mismatched_or_empty_columns() -> None:
    numbers = compute_statistics(pd.DataFrame({"x": [1.0, 2.0]}))["x"]
    words = compute_statistics(pd.DataFrame({"x": ["a", "b"]}))["x"]
    empty = compute_statistics(pd.DataFrame({"x": [None, None]}))["x"]
    with pytest.raises(SchemaMismatch, match="'x'"):
        distribution(numbers, words)
    with pytest.raises(DataError, match="no values in the current"):
        distribution(words, empty)


# -- writing ------------------------------------------------------------------------


def test_write_report_writes_the_rendered_page(
    tmp_path: Path,
    reference: DatasetStatistics,
    current: DatasetStatistics,
    make_window: MakeWindow,
) -> None:
    data = _data(reference, current, [make_window(0)])
    target = tmp_path / "report.html"
    assert write_report(data, target) == target
    assert target.read_text(encoding="utf-8") == render_report(data)
    assert os.listdir(tmp_path) == ["report.html"]


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(
    tmp_path: Path,
    reference: DatasetStatistics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report")

    def refuse(source: object, destination: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ShipyardError, match="cannot write the report"):
        write_report(_data(reference, None, []), target)
    assert target.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_a_failed_render_writes_nothing(
    tmp_path: Path, reference: DatasetStatistics, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: ReportData) -> str:
        raise RuntimeError("template bug")

    monkeypatch.setattr(report, "render_report", broken)
    with pytest.raises(RuntimeError):
        write_report(_data(reference, None, []), tmp_path / "report.html")
    assert os.listdir(tmp_path) == []


def test_writing_into_a_missing_folder_says_what_to_do(
    tmp_path: Path, reference: DatasetStatistics
) -> None:
    with pytest.raises(ShipyardError, match="existing folder"):
        write_report(_data(reference, None, []), tmp_path / "missing" / "report.html")
