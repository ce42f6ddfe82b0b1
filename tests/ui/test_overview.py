"""The overview page and ``/find``, over a demo project whose loop has turned."""

from __future__ import annotations

import httpx

from shipyard.project import Project


def test_the_overview_names_the_models_their_production_version_and_the_runs(
    demo: Project, dashboard: httpx.Client
) -> None:
    page = dashboard.get("/")
    assert page.status_code == 200
    production = demo.registry.resolve("ames@production").version
    assert f'href="/models/ames/{production}"' in page.text
    for run in demo.runs(limit=8):
        assert f'href="/runs/{run.id}"' in page.text
    open_alerts = demo.store.monitoring.alerts(status="open")
    assert f'<div class="value{" bad" if open_alerts else " good"}">{len(open_alerts)}</div>' in (
        page.text
    )


def test_find_takes_each_kind_of_reference_to_its_page(
    demo: Project, dashboard: httpx.Client
) -> None:
    run = demo.runs(limit=1)[0]
    assert dashboard.get(f"/find?ref={run.id}").headers["location"] == f"/runs/{run.id}"
    version = demo.registry.resolve("ames@production")
    assert dashboard.get("/find?ref=ames@production").headers["location"] == (
        f"/models/ames/{version.version}"
    )
    artifact = version.package
    assert dashboard.get(f"/find?ref={artifact.digest[:12]}").headers["location"] == (
        f"/lineage?ref=artifact:{artifact.id}"
    )
    [answer] = demo.prediction_log().read(model="ames", limit=1)["prediction_id"]
    assert dashboard.get(f"/find?ref={answer}").headers["location"] == f"/predictions/{answer}"
    missing = dashboard.get("/find?ref=run:999999")
    assert missing.status_code == 303 and missing.headers["location"] == "/"
    shown = dashboard.get("/")  # the client keeps the one-request message cookie
    assert '<div class="flash error" role="status">' in shown.text
    assert "999999" in shown.text
