"""The predictions pages: the newest answers, search by id, and one answer in full."""

from __future__ import annotations

import html

import httpx

from shipyard.project import Project


def test_the_list_shows_each_models_newest_answers_and_a_search_box(
    demo: Project, dashboard: httpx.Client
) -> None:
    page = dashboard.get("/predictions")
    assert page.status_code == 200
    assert 'name="id"' in page.text
    newest = demo.prediction_log().read(model="ames", limit=50)
    assert len(newest) == 50
    for prediction_id in newest["prediction_id"]:
        assert f'href="/predictions/{prediction_id}"' in page.text


def test_searching_an_id_goes_to_its_page(dashboard: httpx.Client) -> None:
    found = dashboard.get("/predictions", params={"id": " abc123 "})
    assert found.status_code == 303 and found.headers["location"] == "/predictions/abc123"


def test_a_prediction_shows_its_answer_feedback_and_lineage(
    demo: Project, dashboard: httpx.Client
) -> None:
    feedback = demo.store.predictions.feedback()[-1]
    lineage = demo.prediction_lineage(feedback.prediction_id)
    answer = lineage.prediction
    page = dashboard.get(f"/predictions/{answer.prediction_id}")
    assert page.status_code == 200
    assert f'href="/models/ames/{answer.version}">ames:{answer.version}</a>' in page.text
    assert f"{answer.latency_ms:.1f} ms" in page.text
    for column in answer.inputs:
        assert f"<td>{html.escape(column)}</td>" in page.text
    assert f"<dt>Source</dt><dd>{feedback.source}</dd>" in page.text
    assert lineage.run is not None and f'href="/runs/{lineage.run.id}"' in page.text
    assert lineage.dataset_version is not None
    assert f'href="/lineage?ref=dataset:{lineage.dataset_version.id}"' in page.text
    assert f'href="/lineage?ref=prediction%3A{answer.prediction_id}"' in page.text


def test_an_answer_without_feedback_says_so(demo: Project, dashboard: httpx.Client) -> None:
    labelled = {f.prediction_id for f in demo.store.predictions.feedback()}
    newest = demo.prediction_log().read(model="ames", limit=200)["prediction_id"]
    unlabelled = next(p for p in newest if p not in labelled)
    page = dashboard.get(f"/predictions/{unlabelled}")
    assert page.status_code == 200 and "No label yet" in page.text


def test_an_unknown_id_is_a_404_naming_it(dashboard: httpx.Client) -> None:
    page = dashboard.get("/predictions/no-such-prediction")
    assert page.status_code == 404 and "no-such-prediction" in page.text
