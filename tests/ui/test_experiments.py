"""Experiments in the dashboard: runs tracked with ``shipyard.start_run`` listed by
experiment with their metrics, one run's logged values, nested runs and metric
histories, and tracked runs compared."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import shipyard
from shipyard.project import Project
from shipyard.ui.runs import MAX_POINTS
from tests.ui.conftest import figures, running_ui

LISTED = re.compile(r'<td class="num"><a href="/runs/(\d+)">')


def listed(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(number) for number in LISTED.findall(page.text)]


def header(page: httpx.Response) -> list[str]:
    """The column titles of the page's first table."""
    head = page.text.split("<thead>")[1].split("</thead>")[0]
    return re.findall(r"<th[^>]*>([^<]*)</th>", head)


def row_of(page: httpx.Response, run_id: int) -> str:
    return page.text.split(f'value="{run_id}" aria-label')[1].split("</tr>")[0]


@dataclass(frozen=True)
class Runs:
    baseline: int
    deep: int
    folds: tuple[int, int]
    pipeline: int
    trial: int


@pytest.fixture
def tracked(project: Project) -> Runs:
    """Two runs of experiment 'churn' (the second with two nested folds), and a pipeline
    run of 'nightly' with a trial nested under it."""
    with shipyard.start_run(
        "churn", "baseline", project=project, params={"alpha": 0.5}, tags={"team": "pricing"}
    ) as baseline:
        for step in range(30):
            baseline.log_metric("loss", 1 / (step + 1), step=step)
        baseline.log_metric("auc", 0.81)
    with shipyard.start_run("churn", "deep", project=project, params={"depth": 8}) as deep:
        for step in range(5):
            deep.log_metric("loss", 2 / (step + 1), step=step)
        deep.log_metrics({"auc": 0.87, "f1": 0.66})
        for rate in (120.0, 180.0, 150.0):  # no step: drawn by time
            deep.log_metric("rows_per_s", rate)
        folds = []
        for index in range(2):
            with deep.start_run(f"fold-{index}") as fold:
                fold.log_metric("auc", 0.8 + index / 10)
                folds.append(fold.id)
    store = project.store
    pipeline = store.start_run(
        "nightly", params={}, code_version=None, code_dirty=None, environment={}
    )
    trial = store.start_run(
        "", params={}, code_version=None, code_dirty=None, environment={},
        kind="trial", name="trial 0", parent_id=pipeline.id,
    )  # fmt: skip
    store.tracking.record(
        trial.id, execution_id=None, params={"lr": 0.1}, metrics=[("rmse", 3.5, None)]
    )
    store.finish_run(trial.id, status="succeeded")
    store.finish_run(pipeline.id, status="succeeded")
    return Runs(baseline.id, deep.id, (folds[0], folds[1]), pipeline.id, trial.id)


@pytest.fixture
def dashboard(project: Project) -> Iterator[httpx.Client]:
    with running_ui(project) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_the_list_filters_by_experiment_with_a_column_per_metric(
    tracked: Runs, dashboard: httpx.Client
) -> None:
    everything = dashboard.get("/runs")
    assert listed(everything) == [tracked.pipeline, tracked.deep, tracked.baseline]
    assert header(everything)[1:4] == ["Id", "Run", "Experiment"]
    assert 'deep <span class="badge tracked">tracked</span>' in row_of(everything, tracked.deep)
    assert '<td class="run">nightly</td>' in row_of(everything, tracked.pipeline)
    assert 'href="/runs?experiment=nightly">nightly</a>' in row_of(everything, tracked.pipeline)

    overview = dashboard.get("/")
    assert f'{tracked.deep}</a></td><td>deep <span class="badge tracked">tracked</span>' in (
        overview.text
    )

    churn = dashboard.get("/runs?experiment=churn")
    assert listed(churn) == [tracked.deep, tracked.baseline]  # the folds are nested
    assert '<input name="experiment" value="churn"' in churn.text
    assert header(churn)[8:] == ["loss", "auc", "f1", "rows_per_s"]
    deep = row_of(churn, tracked.deep)
    for value in (0.4, 0.87, 0.66, 150.0):
        assert f'<td class="num metric" title="{value}">' in deep
    baseline = row_of(churn, tracked.baseline)
    assert f'title="{1 / 30}"' in baseline and 'title="0.81"' in baseline
    assert baseline.count('<td class="num metric">—</td>') == 2  # no f1, no rows_per_s

    failed = dashboard.get("/runs?experiment=churn&status=failed")
    assert listed(failed) == [] and "No run matches these filters." in failed.text
    assert listed(dashboard.get("/runs?experiment=nowhere")) == []


def test_the_list_shows_the_first_six_metrics_and_says_how_many_more(
    project: Project, dashboard: httpx.Client
) -> None:
    with shipyard.start_run("wide", project=project) as run:
        run.log_metrics({f"m{index}": float(index) for index in range(9)})

    page = dashboard.get("/runs?experiment=wide")

    assert listed(page) == [run.id]
    assert header(page)[8:] == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert "with the 3 more metrics not shown here" in page.text


def test_a_tracked_run_shows_its_values_nested_runs_and_metric_histories(
    project: Project, tracked: Runs, dashboard: httpx.Client
) -> None:
    page = dashboard.get(f"/runs/{tracked.deep}")

    assert page.status_code == 200
    assert '<dt>Experiment</dt><dd><a href="/runs?experiment=churn">churn</a></dd>' in page.text
    assert '<dt>Run</dt><dd>deep <span class="muted">(tracked)</span></dd>' in page.text
    assert '<td class="muted">logged</td><td>depth</td><td><code>8</code></td>' in page.text
    for key, value in project.run_values(tracked.deep).metrics.items():
        assert f'<tr><td>{key}</td><td class="num" title="{value}">' in page.text
    # A run with no step of a pipeline draws no DAG and lists no steps.
    assert "graph-frame" not in page.text and "<h2>Steps</h2>" not in page.text

    nested = page.text.split("<h2>Nested runs</h2>")[1].split("</section>")[0]
    assert [int(i) for i in LISTED.findall(nested)] == list(tracked.folds[::-1])
    assert 'title="0.8"' in nested and 'title="0.9"' in nested
    assert 'fold-1 <span class="badge tracked">' in nested

    drawn = figures(page)
    assert set(drawn) == {"history-0", "history-1"}  # auc and f1 have one point each
    assert '<div id="history-0" class="chart" data-metric="loss">' in page.text
    assert '<div id="history-1" class="chart" data-metric="rows_per_s">' in page.text
    [loss] = drawn["history-0"]["data"]
    assert loss["x"] == [0, 1, 2, 3, 4] and loss["y"] == [2 / (s + 1) for s in range(5)]
    assert drawn["history-0"]["layout"]["xaxis"]["title"]["text"] == "step"
    [rate] = drawn["history-1"]["data"]
    assert rate["y"] == [120.0, 180.0, 150.0]
    assert drawn["history-1"]["layout"]["xaxis"]["type"] == "date"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", at) for at in rate["x"])
    times = [datetime.fromisoformat(moment) for moment in rate["x"]]
    assert times == sorted(times) and times[0] > datetime.now(UTC).replace(tzinfo=None) - timedelta(
        hours=1
    )
    assert '<script src="/assets/plotly.min.js"></script>' in page.text


def test_a_nested_run_links_its_parent_and_a_pipeline_run_lists_its_trials(
    tracked: Runs, dashboard: httpx.Client
) -> None:
    fold = dashboard.get(f"/runs/{tracked.folds[0]}")
    assert fold.status_code == 200
    assert f'<dd class="parent"><a href="/runs/{tracked.deep}">run {tracked.deep}</a> deep' in (
        fold.text
    )
    assert "<h2>Nested runs</h2>" not in fold.text
    assert figures(fold) == {} and "/assets/plotly.min.js" not in fold.text

    pipeline = dashboard.get(f"/runs/{tracked.pipeline}")
    nested = pipeline.text.split("<h2>Nested runs</h2>")[1].split("</section>")[0]
    assert [int(i) for i in LISTED.findall(nested)] == [tracked.trial]
    assert 'trial 0 <span class="badge trial">trial</span>' in nested
    assert '<td class="num metric" title="3.5">' in nested
    assert "This run has no recorded step." in pipeline.text  # a pipeline keeps its section

    trial = dashboard.get(f"/runs/{tracked.trial}")
    assert f'<a href="/runs/{tracked.pipeline}">run {tracked.pipeline}</a> nightly' in trial.text
    assert '<td class="muted">logged</td><td>lr</td><td><code>0.1</code></td>' in trial.text
    assert "<h2>Steps</h2>" not in trial.text and "no recorded step" not in trial.text


def test_the_files_a_tracked_run_logged_are_drawn_as_its_steps(
    project: Project, dashboard: httpx.Client
) -> None:
    report = project.root / "report.txt"
    report.write_text("auc 0.9\n")
    with shipyard.start_run("churn", "with files", project=project) as run:
        stored = run.log_artifact(report)

    page = dashboard.get(f"/runs/{run.id}")

    assert page.status_code == 200
    assert "<h2>Data, artifacts and models logged</h2>" in page.text
    assert '<g class="node succeeded" data-key="log_artifact report.txt">' in page.text
    assert f'href="/lineage?ref=artifact:{stored.id}"' in page.text
    assert "This run logged no metric." in page.text


def test_a_long_history_is_thinned_keeping_its_first_and_last_points(
    project: Project, dashboard: httpx.Client
) -> None:
    points = MAX_POINTS * 2 + 1
    with shipyard.start_run("speed", project=project) as run:
        for step in range(points):
            run.log_metric("x", step * 2.0, step=step)

    [line] = figures(dashboard.get(f"/runs/{run.id}"))["history-0"]["data"]

    assert len(line["x"]) == MAX_POINTS
    assert line["x"][0] == 0 and line["x"][-1] == points - 1
    assert line["y"] == [2.0 * step for step in line["x"]]
    assert line["x"] == sorted(set(line["x"]))


def test_tracked_runs_and_a_pipeline_run_compare_by_run_and_experiment(
    tracked: Runs, dashboard: httpx.Client
) -> None:
    ids = (tracked.baseline, tracked.deep, tracked.pipeline)
    page = dashboard.get("/runs/compare?" + "&".join(f"ids={i}" for i in ids))

    assert page.status_code == 200

    def cells(key: str) -> list[str]:
        row = page.text.split(f'<th scope="row">{html.escape(key)}</th>')[1].split("</tr>")[0]
        return re.findall(r'<td class="value[^"]*">(.*?)</td>', row)

    assert cells("run") == [
        f'<span title="{n}">{n}</span>' for n in ("baseline", "deep", "nightly")
    ]
    assert cells("experiment") == [
        f'<span title="{n}">{n}</span>' for n in ("churn", "churn", "nightly")
    ]
    assert '<th scope="row">pipeline</th>' not in page.text
    assert '<span class="muted">deep (tracked)</span>' in page.text
    assert figures(page) == {}  # no metric all three logged
    pair = dashboard.get(f"/runs/compare?ids={tracked.baseline}&ids={tracked.deep}")
    charted = {figure["layout"]["title"]["text"] for figure in figures(pair).values()}
    assert charted == {"loss", "auc"}


def test_an_unknown_run_is_a_404_naming_it(dashboard: httpx.Client) -> None:
    page = dashboard.get("/runs/424242")
    assert page.status_code == 404 and "run 424242 does not exist" in page.text
