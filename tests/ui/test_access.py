"""Signing in with the API token, forged forms refused, and the dashboard inside
``shipyard serve`` at ``/ui``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from shipyard.project import Project
from tests.e2e.serving_fixtures import start_server
from tests.ui.conftest import running_ui

TOKEN = "a-dashboard-token-0123456789"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "the page has no form guarded against forgery"
    return found.group(1)


@pytest.fixture
def guarded(demo: Project) -> Iterator[httpx.Client]:
    with (
        running_ui(demo, token=SecretStr(TOKEN)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def test_with_a_token_pages_ask_for_it_and_a_wrong_one_is_refused(guarded: httpx.Client) -> None:
    first = guarded.get("/runs")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/runs"
    form = guarded.get("/login?next=/runs")
    assert form.status_code == 200 and 'type="password"' in form.text

    wrong = guarded.post(
        "/login", data={"csrf": csrf_of(form), "next": "/runs", "token": "not-the-token-at-all"}
    )
    assert wrong.status_code == 401
    assert "not the configured token" in wrong.text
    assert guarded.get("/").status_code == 303

    right = guarded.post("/login", data={"csrf": csrf_of(form), "next": "/runs", "token": TOKEN})
    assert right.status_code == 303 and right.headers["location"] == "/runs"
    cookie = right.headers["set-cookie"].lower()
    assert "shipyard_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert TOKEN.lower() not in cookie
    overview = guarded.get("/")
    assert overview.status_code == 200 and "Sign out" in overview.text

    signed_out = guarded.post("/logout", data={"csrf": csrf_of(overview)})
    assert signed_out.status_code == 303
    assert guarded.get("/").status_code == 303


def test_sign_in_never_redirects_to_another_site(guarded: httpx.Client) -> None:
    form = guarded.get("/login")
    answer = guarded.post(
        "/login", data={"csrf": csrf_of(form), "next": "//evil.example/x", "token": TOKEN}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_form_without_this_browsers_csrf_value_is_refused(guarded: httpx.Client) -> None:
    form = guarded.get("/login")
    forged = guarded.post("/login", data={"csrf": "guessed", "next": "/", "token": TOKEN})
    assert forged.status_code == 403
    assert "reload the page" in forged.text
    assert "shipyard_session" not in forged.headers.get("set-cookie", "")
    elsewhere = guarded.post(
        "/login",
        data={"csrf": csrf_of(form), "next": "/", "token": TOKEN},
        headers={"origin": "http://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert "http://evil.example" in elsewhere.text
    assert guarded.get("/").status_code == 303  # still signed out


def test_the_prediction_server_serves_the_dashboard_at_ui_when_asked(
    turned_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(turned_demo, folder)
    monkeypatch.setenv("SHIPYARD_SERVE_UI", "true")
    server = start_server(folder)
    try:
        with server.client() as client:
            page = client.get("/ui/")
            assert page.status_code == 200
            assert 'href="/ui/runs"' in page.text and 'href="/ui/static/ui.css"' in page.text
            assert client.get("/ui/static/ui.css").status_code == 200
            assert client.get("/v2/health/ready").json() == {"ready": True}
    finally:
        server.stop()
