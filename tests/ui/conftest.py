"""The dashboard over a copy of the demo project whose loop has turned once
(``turned_demo``, in tests/conftest.py)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shipyard.project import Project
from shipyard.ui import create_ui
from tests.e2e.serving_fixtures import free_port


@pytest.fixture
def demo(turned_demo: Path, tmp_path: Path) -> Iterator[Project]:
    """An open copy of the turned demo project, this test's own to change."""
    folder = tmp_path / "demo"
    shutil.copytree(turned_demo, folder, ignore=shutil.ignore_patterns("*.lock"))
    with Project.open(folder) as project:
        yield project


@pytest.fixture
def dashboard(demo: Project) -> Iterator[httpx.Client]:
    """A client of the dashboard over ``demo``, served by uvicorn on a loopback port in
    this process (no token: every page is open); redirects are not followed."""
    with running_ui(demo) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


@contextlib.contextmanager
def running_ui(project: Project, **options: Any) -> Iterator[str]:
    """``create_ui(project, **options)`` on uvicorn in a thread; its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_ui(project, **options), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def form_token(client: httpx.Client, path: str) -> str:
    """The CSRF value the page at ``path`` puts in its forms (its cookie is now set)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, f"{path} has no form"
    return found.group(1)


def figures(page: httpx.Response) -> dict[str, Any]:
    """The Plotly figures a page hands its script, by the id of the element they fill."""
    found = re.search(r'<script type="application/json" id="figures">(.*?)</script>', page.text)
    assert found is not None
    return dict(json.loads(found.group(1)))
