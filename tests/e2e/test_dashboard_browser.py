"""The dashboard in a real browser, used as a new user would use it.

Debian's ``chromium``, headless, driven by playwright, against a real ``shipyard ui``
process over a demo project whose loop has turned once (``shipyard quickstart``), with a
canary under way and answers waiting for review.  The tests click through the navigation,
label an item with its keyboard shortcut, promote a canary and roll one back with the
buttons, and sign in with the API token; any error in the browser's console or in a
page's script fails the test.  Every page seen is kept as a screenshot for a person to
look at: in ``$SHIPYARD_SCREENSHOTS``, else in a temporary folder the run names.

Without chromium or playwright the tests are skipped, unless ``SHIPYARD_REQUIRE_BROWSER``
is set (as in CI), when that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import shipyard
from shipyard import Project
from shipyard.prediction_log import PredictionRecord, new_prediction_id
from shipyard.store.records import DeploymentRecord, NewReviewItem
from tests.e2e.serving_fixtures import free_port
from tests.helpers import SHIPYARD

try:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Locator, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("SHIPYARD_REQUIRE_BROWSER"):
        raise
    pytest.skip(
        "the browser tests need playwright (pip install playwright) and Debian's chromium",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODEL = "ames"
REVIEW_ITEMS = 4
TOKEN = "browser-test-token-0123456789"
EXPERIMENT = "churn"


@dataclass
class Screenshots:
    """Numbered full-page screenshots in one folder."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Page, test: str, what: str) -> Path:
        path = self.folder / f"{test}-{len(self.taken) + 1:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@dataclass
class Visit:
    """A browser tab on a dashboard, what the browser complained about, and the camera."""

    page: Page
    base: str
    test: str
    screenshots: Screenshots
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_console_error(self, text: str) -> None:
        """Allow console errors that contain ``text`` (the browser's own note of an
        error status the test asked for); every other one still fails the test."""
        self.expected.append(text)

    def snap(self, what: str) -> None:
        self.screenshots.take(self.page, self.test, what)

    def start(self) -> None:
        self.page.goto(self.base + "/")
        self.snap("overview")

    def follow(self, link: Locator, what: str) -> None:
        """Click ``link`` as a person would and wait for the page it leads to."""
        assert link.get_attribute("href"), f"the link to the {what} page has no href"
        with self.page.expect_navigation():
            link.click()
        self.snap(what)

    def nav(self, title: str) -> Locator:
        return self.page.locator("header.top nav").get_by_role("link", name=title, exact=True)

    def heading(self) -> str:
        return self.page.locator("main h1").first.inner_text()


# -- the project and the server ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_project(turned_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the turned quickstart project with a canary of the version that is not
    production and answers queued for review (as a server at automation level 'assist'
    queues them)."""
    folder = tmp_path_factory.mktemp("browser") / "demo"
    shutil.copytree(turned_demo, folder, ignore=shutil.ignore_patterns("*.lock"))
    with Project.open(folder) as project:
        start_canary(project)
        production = project.registry.resolve(f"{MODEL}@production").version
        log = project.prediction_log()
        try:
            seen = log.read(model=MODEL, limit=REVIEW_ITEMS)
            answers = [
                PredictionRecord(
                    prediction_id=new_prediction_id(),
                    model=MODEL,
                    version=production,
                    inputs=inputs,
                    prediction=prediction,
                    latency_ms=2.0,
                )
                for inputs, prediction in zip(seen["inputs"], seen["prediction"], strict=True)
            ]
            log.append(answers)
        finally:
            log.close()
        queued = project.store.review.enqueue([
            NewReviewItem(model=MODEL, version=production, prediction_id=answer.prediction_id,
                          inputs=dict(answer.inputs), suggestion=answer.prediction,
                          probabilities=None, confidence=None, interval=None,
                          reasons=["assist"], blind=False, labels_required=1)
            for answer in answers
        ])  # fmt: skip
        assert queued == REVIEW_ITEMS
        with shipyard.start_run(EXPERIMENT, "baseline", project=project) as run:
            for step in range(20):
                run.log_metric("loss", 1 / (step + 1), step=step)
    return folder


def start_canary(project: Project) -> DeploymentRecord:
    """The model's canary: the one under way, else its other version at 20%."""
    current = project.deployments.current(MODEL)
    if current is not None:
        return current
    production = project.registry.resolve(f"{MODEL}@production").version
    other = next(v.version for v in project.registry.versions(MODEL) if v.version != production)
    return project.deployments.deploy(
        MODEL, other, strategy="canary", percent=20, force=True, reason="browser tests"
    )


@dataclass
class Dashboard:
    """A running ``shipyard ui`` over a copy of the demo project."""

    url: str
    folder: Path


def serve_dashboard(
    template: Path, folder: Path, *, env: dict[str, str] | None = None
) -> Iterator[Dashboard]:
    """``shipyard ui --port P`` in a copy of ``template``, once it answers; stopped after."""
    shutil.copytree(template, folder, ignore=shutil.ignore_patterns("*.lock"))
    port = free_port()
    process = subprocess.Popen(
        [SHIPYARD, "ui", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                assert process.stderr is not None
                raise RuntimeError(f"shipyard ui exited: {process.stderr.read().decode()}")
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("shipyard ui did not answer within 120 s")
            time.sleep(0.2)
        yield Dashboard(url, folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="module")
def dashboard(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The dashboard with no token: every page open.  Tests that act leave what they
    changed in the store; each first sets up what it needs (see ``start_canary``)."""
    yield from serve_dashboard(demo_project, tmp_path_factory.mktemp("open") / "demo")


@pytest.fixture(scope="module")
def guarded_dashboard(
    demo_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The dashboard with ``SHIPYARD_API_TOKEN`` set: pages ask for it."""
    folder = tmp_path_factory.mktemp("guarded") / "demo"
    yield from serve_dashboard(demo_project, folder, env={"SHIPYARD_API_TOKEN": TOKEN})


# -- the browser ---------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if os.environ.get("SHIPYARD_REQUIRE_BROWSER"):
        pytest.fail(f"SHIPYARD_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (playwright's own browser download is not used)."""
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def screenshots(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Screenshots]:
    chosen = os.environ.get("SHIPYARD_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    shots = Screenshots(folder)
    yield shots
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and shots.taken:
        reporter.write_line(f"dashboard screenshots ({len(shots.taken)}): {folder}")


def _visit(
    browser: Browser, base: str, request: pytest.FixtureRequest, screenshots: Screenshots
) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    visit = Visit(page, base, request.node.name.removeprefix("test_"), screenshots)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(t in message.text for t in visit.expected):
            visit.problems.append(f"console error on {page.url}: {message.text}")

    page.on("console", console)
    page.on(
        "pageerror", lambda error: visit.problems.append(f"script error on {page.url}: {error}")
    )
    try:
        yield visit
    finally:
        context.close()
    if visit.problems:
        pytest.fail("the browser reported errors:\n" + "\n".join(visit.problems))


@pytest.fixture
def visit(
    browser: Browser,
    dashboard: Dashboard,
    request: pytest.FixtureRequest,
    screenshots: Screenshots,
) -> Iterator[Visit]:
    """A fresh browser tab (no cookies) on the open dashboard; fails the test on any
    console error or script error."""
    yield from _visit(browser, dashboard.url, request, screenshots)


@pytest.fixture
def guarded_visit(
    browser: Browser,
    guarded_dashboard: Dashboard,
    request: pytest.FixtureRequest,
    screenshots: Screenshots,
) -> Iterator[Visit]:
    yield from _visit(browser, guarded_dashboard.url, request, screenshots)


def accept_confirmations(page: Page) -> list[str]:
    """Answer OK to the page's confirmation dialogs; the list fills with what they asked."""
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


# -- the tests -----------------------------------------------------------------------------


def test_a_new_user_clicks_from_the_overview_through_every_page(
    visit: Visit, dashboard: Dashboard
) -> None:
    page = visit.page
    with Project.open(dashboard.folder) as project:
        production = project.registry.resolve(f"{MODEL}@production").version
        run_id = project.runs(limit=1, pipeline="standard")[0].id
        [answer] = project.prediction_log().read(model=MODEL, limit=1)["prediction_id"]
    visit.start()
    assert visit.heading() == "Overview"
    models = page.locator("main table").first
    assert models.get_by_role("link", name=MODEL, exact=True).is_visible()
    assert "canary" in models.inner_text()

    visit.follow(visit.nav("Runs"), "runs")
    assert visit.heading().startswith("Runs")
    visit.follow(page.locator(f'main a[href="/runs/{run_id}"]').first, "run")
    assert visit.heading().startswith(f"Run {run_id}")
    dag = page.locator("main svg.graph").first
    assert dag.is_visible()
    assert "Trainer" in dag.text_content()

    visit.follow(visit.nav("Runs"), "runs")
    visit.follow(page.locator(f'main a[href="/runs?experiment={EXPERIMENT}"]').first, "experiment")
    assert visit.heading() == f"Runs of experiment {EXPERIMENT}"
    assert page.locator("main thead th", has_text="loss").is_visible()
    visit.follow(page.locator("main td.num a").first, "tracked-run")
    page.locator("main #history-0 svg.main-svg").first.wait_for(state="visible")
    assert page.locator("main svg.graph").count() == 0
    visit.snap("metric-history")

    visit.follow(visit.nav("Lineage"), "lineage")
    visit.page.locator("main form input[name=ref]").fill(f"{MODEL}@production")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visit.snap("lineage-of-production")
    graph = page.locator("main svg.graph").first
    assert graph.is_visible()
    assert "Trainer" in graph.text_content()

    visit.follow(visit.nav("Registry"), "registry")
    visit.follow(page.locator(f'main a[href="/models/{MODEL}"]').first, "model")
    assert MODEL in visit.heading()
    visit.follow(page.locator(f'main a[href="/models/{MODEL}/{production}"]').first, "version")
    assert MODEL in visit.heading() and str(production) in visit.heading()

    visit.follow(visit.nav("Deployments"), "deployments")
    visit.follow(page.locator(f'main a[href="/deployments/{MODEL}"]').first, "deployment")
    assert "canary" in page.locator("main").inner_text()
    assert page.get_by_role("button", name=re.compile("^Promote")).is_visible()

    visit.follow(visit.nav("Monitoring"), "monitoring")
    visit.follow(page.locator(f'main a[href^="/monitoring/{MODEL}"]').first, "monitoring-model")
    chart = page.locator("main .plotly svg.main-svg").first
    chart.wait_for(state="visible")
    visit.snap("monitoring-charts")

    visit.follow(visit.nav("Review"), "review")
    assert MODEL in page.locator("main").inner_text()

    visit.follow(visit.nav("Predictions"), "predictions")
    page.locator("main form input[name=id]").fill(answer)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    visit.snap("prediction")
    assert page.url.endswith(f"/predictions/{answer}")
    assert answer in page.locator("main").inner_text()


def test_a_reviewer_labels_an_item_with_its_keyboard_shortcut(
    visit: Visit, dashboard: Dashboard
) -> None:
    page = visit.page
    visit.start()
    visit.follow(visit.nav("Review"), "review")
    visit.follow(page.locator(f'main a[href="/review/{MODEL}/next"]').first, "item")
    shown = re.search(r"/review/items/(\d+)$", page.url)
    assert shown is not None, page.url
    item_id = int(shown.group(1))
    labelling = page.locator(f'main form[action="/review/items/{item_id}/label"] button[data-key]')
    assert labelling.count(), "the item page offers no keyboard shortcut to label it"
    key = labelling.first.get_attribute("data-key")
    assert key
    with page.expect_navigation():
        page.keyboard.press(key)
    visit.snap("labelled")
    assert page.locator("main .flash.done").is_visible()
    with Project.open(dashboard.folder) as project:
        item = project.review.item(item_id).item
    assert item.status == "resolved" and len(item.labels) == 1, item
    assert item.label == item.suggestion  # a regressor's one-key label: its suggestion


def press_on_the_canary(visit: Visit, dashboard: Dashboard, button: str, what: str) -> int:
    """Start a canary, go to its deployment page through the navigation and press
    ``button`` (a pattern of its name), confirming; the canary's deployment id."""
    page = visit.page
    with Project.open(dashboard.folder) as project:
        canary = start_canary(project)
    visit.start()
    visit.follow(visit.nav("Deployments"), "deployments")
    visit.follow(page.locator(f'main a[href="/deployments/{MODEL}"]').first, "deployment")
    asked = accept_confirmations(page)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(button)).click()
    visit.snap(what)
    assert asked, f"the {what} button did not ask for confirmation"
    assert page.locator("main .flash.done").is_visible()
    return canary.id


def test_an_operator_promotes_a_canary_with_the_button(visit: Visit, dashboard: Dashboard) -> None:
    canary = press_on_the_canary(visit, dashboard, "^Promote", "promoted")
    with Project.open(dashboard.folder) as project:
        assert project.deployments.current(MODEL) is None
        [last, *_] = project.deployments.deployments(MODEL)
        promoted = project.registry.resolve(f"{MODEL}@production").version
    assert last.id == canary and last.status == "promoted"
    assert promoted == last.candidate_version


def test_an_operator_rolls_a_canary_back_with_the_button(
    visit: Visit, dashboard: Dashboard
) -> None:
    canary = press_on_the_canary(visit, dashboard, "^Roll ?back", "rolled-back")
    with Project.open(dashboard.folder) as project:
        assert project.deployments.current(MODEL) is None
        [last, *_] = project.deployments.deployments(MODEL)
        production = project.registry.resolve(f"{MODEL}@production").version
    assert last.id == canary and last.status == "rolled_back"
    assert production == last.primary_version


def test_with_a_token_the_dashboard_asks_for_it_and_refuses_a_wrong_one(
    guarded_visit: Visit,
) -> None:
    page = guarded_visit.page
    page.goto(guarded_visit.base + "/")
    guarded_visit.snap("sign-in")
    assert page.url.startswith(guarded_visit.base + "/login")
    assert guarded_visit.heading() == "Sign in"
    token = page.get_by_label("API token")
    token.fill("not-the-token-at-all")
    guarded_visit.expect_console_error("status of 401 (Unauthorized)")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    guarded_visit.snap("refused")
    assert page.get_by_role("alert").inner_text() == "that is not the configured token"
    assert "/login" in page.url
    page.get_by_label("API token").fill(TOKEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    guarded_visit.snap("signed-in")
    assert page.url == guarded_visit.base + "/"
    assert guarded_visit.heading() == "Overview"
    assert page.get_by_role("button", name="Sign out").is_visible()
