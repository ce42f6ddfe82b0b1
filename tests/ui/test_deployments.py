"""The deployments pages and their buttons, clicked over HTTP; outcomes read from the store."""

from __future__ import annotations

import httpx

from shipyard.project import Project
from shipyard.store.records import DeploymentRecord
from tests.ui.conftest import figures, form_token


def a_canary(demo: Project) -> DeploymentRecord:
    """ames:1 beside production (ames:2) answering 20% of the requests."""
    return demo.deployments.deploy(
        "ames", 1, strategy="canary", percent=20, force=True, reason="a test canary"
    )


def test_with_no_rollout_the_pages_say_so_and_keep_the_last_analysis_in_view(
    demo: Project, dashboard: httpx.Client
) -> None:
    assert demo.deployments.current("ames") is None
    last = demo.deployments.deployments("ames")[0]
    listing = dashboard.get("/deployments")
    assert listing.status_code == 200
    assert "No rollout is under way" in listing.text
    assert last.describe() in listing.text and last.status in listing.text

    page = dashboard.get("/deployments/ames")
    assert page.status_code == 200
    assert "No deployment under way" in page.text
    assert 'action="/deployments/ames/deploy"' in page.text
    steps, decisions = figures(page)["timeline-chart"]["data"]
    events = [e for e in demo.deployments.history("ames") if e.deployment_id == last.id]
    assert len(decisions["x"]) == len(events) and decisions["y"][-1] == 100  # promoted
    for event in demo.deployments.history("ames"):
        if event.deployment_id == last.id:
            assert event.reason.replace("'", "&#39;") in page.text


def test_a_canary_shows_its_split_arms_and_buttons(demo: Project, dashboard: httpx.Client) -> None:
    canary = a_canary(demo)
    page = dashboard.get("/deployments/ames")
    assert page.status_code == 200
    assert canary.describe() in page.text
    assert 'id="split-chart"' in page.text
    assert "20% answered by the candidate" in page.text
    comparison = demo.deployments.compare("ames")
    assert f"primary v{comparison.primary.version}" in page.text
    for action in ("promote", "percent", "rollback"):
        assert f'action="/deployments/ames/{action}"' in page.text
    assert 'class="danger"' in page.text and "data-confirm" in page.text
    listing = dashboard.get("/deployments")
    assert 'href="/deployments/ames"' in listing.text and canary.describe() in listing.text


def test_set_percent_then_promote_through_the_buttons(
    demo: Project, dashboard: httpx.Client
) -> None:
    a_canary(demo)
    token = form_token(dashboard, "/deployments/ames")
    moved = dashboard.post(
        "/deployments/ames/percent", data={"csrf": token, "percent": "45", "reason": "more"}
    )
    assert moved.status_code == 303
    current = demo.deployments.current("ames")
    assert current is not None and current.percent == 45
    assert demo.deployments.history("ames")[-1].actor == "dashboard"

    promoted = dashboard.post("/deployments/ames/promote", data={"csrf": token, "reason": "ok"})
    assert promoted.status_code == 303
    assert demo.deployments.current("ames") is None
    last = demo.deployments.deployments("ames")[0]
    assert (last.id, last.status) == (current.id, "promoted")
    assert demo.registry.resolve("ames@production").version == 1
    shown = dashboard.get("/deployments/ames")
    assert "promoted ames: v1 is production" in shown.text


def test_rollback_ends_the_canary_and_leaves_production_alone(
    demo: Project, dashboard: httpx.Client
) -> None:
    canary = a_canary(demo)
    production = demo.registry.resolve("ames@production").version
    token = form_token(dashboard, "/deployments/ames")
    rolled = dashboard.post("/deployments/ames/rollback", data={"csrf": token, "reason": "no"})
    assert rolled.status_code == 303
    assert demo.deployments.current("ames") is None
    last = demo.deployments.deployments("ames")[0]
    assert (last.id, last.status, last.live) == (canary.id, "rolled_back", "primary")
    assert demo.registry.resolve("ames@production").version == production
    assert demo.deployments.history("ames")[-1].reason == "no"
    timeline = figures(dashboard.get("/deployments/ames"))["timeline-chart"]["data"][1]
    assert timeline["y"] == [20, 0]  # deployed at 20%, then none


def test_a_refused_change_says_why_and_changes_nothing(
    demo: Project, dashboard: httpx.Client
) -> None:
    canary = a_canary(demo)
    token = form_token(dashboard, "/deployments/ames")
    refused = dashboard.post("/deployments/ames/switch", data={"csrf": token})
    assert refused.status_code == 303
    shown = dashboard.get("/deployments/ames")
    assert 'class="flash error"' in shown.text and "blue-green" in shown.text
    assert demo.deployments.current("ames") == canary


def test_forms_without_the_token_are_refused_and_change_nothing(
    demo: Project, dashboard: httpx.Client
) -> None:
    canary = a_canary(demo)
    form_token(dashboard, "/deployments/ames")  # the cookie alone is not enough
    for action in ("promote", "rollback", "percent"):
        refused = dashboard.post(f"/deployments/ames/{action}", data={"percent": "90"})
        assert refused.status_code == 403
    assert demo.deployments.current("ames") == canary
    forged = dashboard.post("/deployments/ames/rollback", data={"csrf": "forged", "reason": "x"})
    assert forged.status_code == 403 and demo.deployments.current("ames") == canary


def test_deploying_from_the_form_starts_a_canary(demo: Project, dashboard: httpx.Client) -> None:
    token = form_token(dashboard, "/models/ames/1")
    started = dashboard.post(
        "/deployments/ames/deploy",
        data={
            "csrf": token,
            "version": "1",
            "strategy": "canary",
            "percent": "15",
            "force": "yes",
            "reason": "try the first again",
        },
    )
    assert started.status_code == 303
    current = demo.deployments.current("ames")
    assert current is not None
    assert (current.candidate_version, current.strategy, current.percent) == (1, "canary", 15)
    assert demo.deployments.history("ames")[-1].actor == "dashboard"


def test_unknown_models_are_404_pages_naming_them(demo: Project, dashboard: httpx.Client) -> None:
    page = dashboard.get("/deployments/nosuchmodel")
    assert page.status_code == 404 and "nosuchmodel" in page.text
    token = form_token(dashboard, "/deployments/ames")
    posted = dashboard.post("/deployments/nosuchmodel/rollback", data={"csrf": token})
    assert posted.status_code == 404 and "nosuchmodel" in posted.text
