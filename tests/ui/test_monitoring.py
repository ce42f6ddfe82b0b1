"""The monitoring pages over the turned demo: the latest windows, alerts and the loop;
one model's report sections with their figures, ranges, empty states and 404s."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipyard.monitoring import window_dict
from shipyard.monitoring._report_sections import page_context
from shipyard.project import Project
from shipyard.store.records import NewWindow


def _figures(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="figures">(.*?)</script>', page, re.S)
    assert found is not None
    figures: dict[str, Any] = json.loads(found.group(1))
    return figures


def test_the_monitoring_page_shows_each_models_latest_windows_alerts_and_loop(
    demo: Project, dashboard: httpx.Client
) -> None:
    page = dashboard.get("/monitoring")
    assert page.status_code == 200
    latest = demo.store.monitoring.latest_windows()
    assert latest, "the demo's loop computes windows"
    for window in latest:
        shown = window_dict(window)
        judged = [f for f in shown["features"].values() if f["status"] != "not enough data"]
        row = page.text[page.text.index(f">{window.model}:{window.version}</a>") :]
        row = row[: row.index("</tr>")]
        assert f"{window.count:,}" in row
        if shown["drifted"]:
            assert f"{len(shown['drifted'])} of {len(judged)}" in row
        else:
            assert f"none of {len(judged)}" in row
    for alert in demo.store.monitoring.alerts(status="open"):
        assert alert.message in page.text
    steps = demo.loop.history("ames")
    assert steps, "the demo's loop retrained"
    assert steps[-1].reason in page.text
    assert f'<span class="badge {steps[-1].step}">{steps[-1].step}</span>' in page.text


def test_a_models_page_draws_the_reports_sections_from_the_same_numbers(
    demo: Project, dashboard: httpx.Client
) -> None:
    started = time.perf_counter()
    page = dashboard.get("/monitoring/ames?since=all")
    took = time.perf_counter() - started
    assert page.status_code == 200
    context, expected = page_context(demo.monitor.report_data("ames", since=None))
    figures = _figures(page.text)
    assert set(figures) == set(expected)
    assert "chart-drift" in figures
    assert figures["chart-drift"]["data"][0]["y"] == expected["chart-drift"]["data"][0]["y"]
    for section in ("summary", "drift", "distributions", "performance", "output", "latency"):
        assert f'<section id="{section}">' in page.text
    for chart in figures:
        assert f'id="{chart}"' in page.text
    assert f'<div class="value">{context["windows"]}</div>' in page.text
    assert '<script src="/assets/plotly.min.js"></script>' in page.text
    assert f"{context['windows']} windows drawn;" in page.text
    print(f"/monitoring/ames?since=all: {context['windows']} windows in {took * 1000:.0f} ms")
    assert took < 5.0


def _old_window(demo: Project, model: str, *, days: int) -> None:
    """A copy of ames' newest window as ``model``'s, ended ``days`` ago."""
    [newest] = demo.store.monitoring.windows(model="ames", newest=1)
    end = datetime.now(UTC) - timedelta(days=days)
    demo.store.monitoring.add_window(
        NewWindow(
            model=model,
            version=newest.version,
            spec=newest.spec,
            start=end - timedelta(hours=1),
            end=end,
            count=newest.count,
            statistics=newest.statistics,
            result=newest.result,
            labelled=newest.labelled,
        )
    )


def _windows_card(page: str) -> int:
    found = re.search(r'<div class="label">Windows</div>\s*<div class="value">(\d+)</div>', page)
    assert found is not None
    return int(found.group(1))


def test_the_range_chooses_the_windows_drawn(demo: Project, dashboard: httpx.Client) -> None:
    recent = len(demo.store.monitoring.windows(model="ames", spec=demo.monitor.spec.text))
    _old_window(demo, "ames", days=10)
    assert _windows_card(dashboard.get("/monitoring/ames?since=7d").text) == recent
    assert _windows_card(dashboard.get("/monitoring/ames?since=30d").text) == recent + 1
    assert _windows_card(dashboard.get("/monitoring/ames?since=all").text) == recent + 1
    bad = dashboard.get("/monitoring/ames?since=forever")
    assert bad.status_code == 422
    assert "since must be one of 1d, 7d, 30d, all" in bad.text


def test_a_range_without_windows_says_when_the_newest_ended(
    demo: Project, dashboard: httpx.Client
) -> None:
    production = demo.registry.resolve("ames@production")
    demo.registry.register("quiet", package_id=production.package.id)
    _old_window(demo, "quiet", days=3)
    page = dashboard.get("/monitoring/quiet?since=1d")
    assert page.status_code == 200
    assert "No window ended in the last 1d." in page.text
    assert 'href="/monitoring/quiet?since=all"' in page.text
    assert _figures(page.text) == {}


def test_the_page_draws_at_most_the_newest_windows_and_merges_fewer(demo: Project) -> None:
    _old_window(demo, "ames", days=2)
    every = demo.store.monitoring.windows(model="ames", spec=demo.monitor.spec.text)
    data = demo.monitor.report_data("ames", since=None, newest=2, merged=1)
    assert [w["id"] for w in data.windows] == [w.id for w in every[-2:]]
    assert data.current is not None and data.current.num_rows == every[-1].count
    both = demo.monitor.report_data("ames", since=None, newest=2)
    same = [w for w in every[-2:] if w.version == every[-1].version]
    assert both.current is not None
    assert both.current.num_rows == sum(w.count for w in same)


def test_an_unknown_model_is_a_404_and_a_model_without_windows_says_what_to_run(
    demo: Project, dashboard: httpx.Client
) -> None:
    missing = dashboard.get("/monitoring/nosuchmodel")
    assert missing.status_code == 404
    assert "nosuchmodel" in missing.text

    production = demo.registry.resolve("ames@production")
    demo.registry.register("quiet", package_id=production.package.id)
    page = dashboard.get("/monitoring/quiet")
    assert page.status_code == 200
    assert "No windows yet" in page.text
    assert "<code>shipyard monitor quiet</code>" in page.text
    assert _figures(page.text) == {}
