"""The registry pages: models, a model's versions and alias history, one version with
every gate check, and promotion from the page."""

from __future__ import annotations

import html
import re

import httpx

from shipyard.project import Project
from tests.ui.conftest import figures, form_token


def test_the_registry_lists_every_model_with_production_and_latest(
    demo: Project, dashboard: httpx.Client
) -> None:
    page = dashboard.get("/models")
    assert page.status_code == 200
    for model in demo.registry.models():
        assert f'href="/models/{model.name}"' in page.text
        assert f'href="/models/{model.name}/{model.aliases["production"]}"' in page.text
        assert f'href="/models/{model.name}/{model.latest_version}"' in page.text


def test_a_model_shows_its_versions_newest_first_a_metric_chart_and_alias_history(
    demo: Project, dashboard: httpx.Client
) -> None:
    page = dashboard.get("/models/ames")
    assert page.status_code == 200
    versions = demo.registry.versions("ames")
    links = re.findall(r'href="/models/ames/(\d+)">v\d+</a></td>', page.text)
    assert [int(v) for v in links] == [record.version for record in versions]
    for record in versions:
        assert f'href="/runs/{record.run_id}"' in page.text
        assert f'href="/lineage?ref=ames%3A{record.version}"' in page.text
    chart = figures(page)["metric-chart"]
    assert isinstance(chart, dict)
    [line] = chart["data"]
    assert line["x"] == sorted(record.version for record in versions)
    for event in demo.registry.history("ames"):
        assert html.escape(event.reason) in page.text
        assert html.escape(event.actor) in page.text


def test_long_version_lists_come_in_pages(demo: Project, dashboard: httpx.Client) -> None:
    package = demo.registry.resolve("ames:1").package
    for _ in range(60):
        demo.registry.register("ames", package_id=package.id, metrics={"rmse": 1.0})
    newest = demo.registry.versions("ames", limit=1)[0].version

    first = dashboard.get("/models/ames")
    shown = [int(v) for v in re.findall(r'href="/models/ames/(\d+)">v\d+</a></td>', first.text)]
    assert shown == list(range(newest, newest - 50, -1))
    assert f'href="/models/ames?before={newest - 49}"' in first.text
    second = dashboard.get(f"/models/ames?before={newest - 49}")
    rest = [int(v) for v in re.findall(r'href="/models/ames/(\d+)">v\d+</a></td>', second.text)]
    assert rest == list(range(newest - 50, 0, -1))
    assert "?before=" not in second.text.replace('href="/models/ames">', "")


def test_a_version_shows_every_gate_check_and_its_facts(
    demo: Project, dashboard: httpx.Client
) -> None:
    record = demo.registry.resolve("ames@production")
    page = dashboard.get(f"/models/ames/{record.version}")
    assert page.status_code == 200
    checks = record.reasons["checks"]
    assert checks, "the quickstart's gate stores its checks"
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>(bound|change)</td>", page.text)
    assert [(m, s) for m, s, _ in rows] == [(c["metric"], c["slice"]) for c in checks]
    assert page.text.count('<span class="badge good">pass</span>') == sum(
        1 for check in checks if check["passed"]
    )
    assert f'href="/runs/{record.run_id}"' in page.text
    assert record.package.digest[:16] in page.text
    assert "is production" in page.text  # no promote button for the version that is


def test_promoting_a_blessed_version_moves_production_and_is_recorded(
    demo: Project, dashboard: httpx.Client
) -> None:
    older = next(v for v in demo.registry.versions("ames") if "production" not in v.aliases)
    assert older.blessed, "the quickstart's first version was blessed"
    token = form_token(dashboard, f"/models/ames/{older.version}")
    moved = dashboard.post(
        f"/models/ames/{older.version}/promote",
        data={"csrf": token, "alias": "production", "reason": "back to the first"},
    )
    assert moved.status_code == 303
    assert demo.registry.resolve("ames@production").version == older.version
    last = demo.registry.history("ames")[-1]
    assert (last.actor, last.reason, last.to_version) == (
        "dashboard", "back to the first", older.version
    )  # fmt: skip
    shown = dashboard.get(moved.headers["location"])
    assert f"to v{older.version}" in shown.text and 'class="flash done"' in shown.text


def test_a_promotion_without_the_form_token_is_refused(
    demo: Project, dashboard: httpx.Client
) -> None:
    production = demo.registry.resolve("ames@production").version
    refused = dashboard.post("/models/ames/1/promote", data={"alias": "production"})
    assert refused.status_code == 403
    assert demo.registry.resolve("ames@production").version == production


def test_unknown_models_and_versions_are_404_pages_naming_them(dashboard: httpx.Client) -> None:
    missing = dashboard.get("/models/nosuchmodel")
    assert missing.status_code == 404 and "nosuchmodel" in missing.text
    version = dashboard.get("/models/ames/999")
    assert version.status_code == 404 and "no version 999" in version.text
