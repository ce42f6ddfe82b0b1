"""The runs pages: the list with filters and pages, one run with its DAG, runs compared."""

from __future__ import annotations

import html
import json
import re

import httpx

from shipyard.project import Project
from shipyard.store import StoredOutput

LISTED = re.compile(r'<td class="num"><a href="/runs/(\d+)">')


def listed(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(number) for number in LISTED.findall(page.text)]


def test_a_run_shows_each_step_with_its_status_drawn_and_its_metrics(
    demo: Project, dashboard: httpx.Client
) -> None:
    for run in demo.runs(limit=2):
        page = dashboard.get(f"/runs/{run.id}")
        assert page.status_code == 200
        steps = demo.run_steps(run.id)
        assert {step.step for step in steps} >= {"ExampleGen", "Trainer", "Pusher"}
        for step in steps:
            row = page.text.split(f'<tr id="step-{step.step}" class="step">')[1].split("</tr>")[0]
            assert f'<span class="badge {step.status}">{step.status}</span>' in row
            assert f'<g class="node {step.status}" data-key="{step.step}">' in page.text
            for artifact in step.outputs.values():
                assert f'href="/lineage?ref=artifact:{artifact.id}"' in row
        assert page.text.count('<path class="edge"') >= len(steps) - 1
        for key, value in demo.store.tracking.latest_metrics(run.id).items():
            assert f'<tr><td>{key}</td><td class="num" title="{value}">' in page.text
        assert f'<dd><span class="badge {run.status}">{run.status}</span></dd>' in page.text


def test_a_failed_step_shows_its_error_and_traceback(
    demo: Project, dashboard: httpx.Client
) -> None:
    store = demo.store
    run = store.start_run(
        "custom", params={"fit": {"alpha": 0.5}}, code_version="abc123", code_dirty=True,
        environment={"python": "3.11"},
    )  # fmt: skip
    load = store.start_execution(
        run.id, step="load", component="my.steps:Load", fingerprint=None, params={}, inputs={}
    )
    made = StoredOutput(type_name="Table", digest="d" * 64, kind="file", size=3, uri="/t")
    table = store.finish_execution(load, status="succeeded", attempts=1, outputs={"rows": made})
    fit = store.start_execution(
        run.id, step="fit", component="my.steps:Fit", fingerprint=None, params={},
        inputs={"rows": table["rows"].id},
    )  # fmt: skip
    trace = 'Traceback (most recent call last):\n  File "fit.py"\nValueError: x < 0 & y'
    store.finish_execution(fit, status="failed", attempts=2, error="x < 0 & y", traceback=trace)
    store.finish_run(run.id, status="failed", error="step fit failed")

    page = dashboard.get(f"/runs/{run.id}")

    assert page.status_code == 200
    assert f'<pre class="error">{html.escape(trace, quote=False)}</pre>' in page.text.replace(
        "&#34;", '"'
    )
    assert '<g class="node failed" data-key="fit">' in page.text
    assert '<g class="node succeeded" data-key="load">' in page.text
    assert page.text.count('<path class="edge"') == 1  # load's table into fit
    assert "<code>abc123</code> (uncommitted changes)" in page.text
    assert "<td>fit</td><td>alpha</td><td><code>0.5</code></td>" in page.text


def test_an_unknown_run_is_a_404_naming_it(dashboard: httpx.Client) -> None:
    page = dashboard.get("/runs/987654")
    assert page.status_code == 404
    assert "run 987654 does not exist" in page.text


def test_the_list_pages_newest_first_and_filters_by_pipeline_and_status(
    demo: Project, dashboard: httpx.Client
) -> None:
    store = demo.store
    before = [run.id for run in demo.runs(limit=100)]
    extra = []
    for index in range(60):
        run = store.start_run(
            "nightly", params={}, code_version=None, code_dirty=None, environment={}
        )
        store.finish_run(run.id, status="failed" if index % 7 == 0 else "succeeded")
        extra.append(run.id)
    newest_first = extra[::-1] + before

    first = dashboard.get("/runs")
    assert listed(first) == newest_first[:50]
    assert 'href="/runs?page=2&amp;pipeline=&amp;status=&amp;experiment="' in first.text
    second = dashboard.get("/runs?page=2")
    assert listed(second) == newest_first[50:100]
    assert 'href="/runs?page=1&amp;pipeline=&amp;status=&amp;experiment="' in second.text
    assert "page=3" not in second.text

    failed = dashboard.get("/runs?status=failed")
    assert listed(failed) == [run.id for run in demo.runs(limit=50, status="failed")]
    assert set(listed(failed)) >= {extra[0], extra[7], extra[56]}
    assert '<option value="failed" selected>' in failed.text
    nightly_failed = dashboard.get("/runs?pipeline=nightly&status=failed&page=1")
    assert listed(nightly_failed) == [i for index, i in enumerate(extra) if index % 7 == 0][::-1]
    standard = [run.id for run in demo.runs(pipeline="standard")]
    assert standard and set(standard) <= set(before)
    assert listed(dashboard.get("/runs?pipeline=standard")) == standard
    assert listed(dashboard.get("/runs?pipeline=nowhere")) == []
    assert 'name="ids" value="' in first.text and 'action="/runs/compare"' in first.text


def test_compare_shows_every_runs_values_highlights_differences_and_charts_metrics(
    demo: Project, dashboard: httpx.Client
) -> None:
    first, second = sorted(run.id for run in demo.runs(limit=2))

    page = dashboard.get(f"/runs/compare?ids={first}&ids={second}")

    assert page.status_code == 200
    comparison = demo.compare_runs([first, second])
    for row in comparison.rows:
        shown = page.text.split(f'<th scope="row">{html.escape(row.key)}</th>')[1]
        cells = shown.split("</tr>")[0]
        assert (' differs"' in cells) == row.differs, row.key
        if row.kind == "metric":
            for value in row.values:
                if value is not None:
                    assert f'title="{value}"' in cells
    figures = json.loads(page.text.split('id="figures">')[1].split("</script>")[0])
    shared = [row for row in comparison.rows if row.kind == "metric" and None not in row.values]
    assert len(figures) == min(len(shared), 12) > 0
    [bars] = figures["metric-0"]["data"]
    assert bars["type"] == "bar" and bars["x"] == [f"run {first}", f"run {second}"]
    charted = comparison.row("metric " + figures["metric-0"]["layout"]["title"]["text"])
    assert bars["y"] == list(charted.values)
    assert charted.differs or not any(row.differs for row in shared)
    assert '<div id="metric-0" class="chart">' in page.text


def test_compare_refuses_fewer_than_two_runs_and_unknown_ones(
    demo: Project, dashboard: httpx.Client
) -> None:
    run = demo.runs(limit=1)[0].id
    one = dashboard.get(f"/runs/compare?ids={run}")
    assert one.status_code == 422 and "give at least two runs to compare" in one.text
    assert dashboard.get("/runs/compare").status_code == 422
    garbled = dashboard.get(f"/runs/compare?ids={run}&ids=seven")
    assert garbled.status_code == 422 and "&#39;seven&#39; is not a run id" in garbled.text
    unknown = dashboard.get(f"/runs/compare?ids={run}&ids=424242")
    assert unknown.status_code == 404 and "run 424242 does not exist" in unknown.text
