"""The review pages over the demo (a regressor): items queued for logged predictions
are claimed, labelled and skipped through HTTP; leases, forgery and blind review hold."""

from __future__ import annotations

import re

import httpx
import pytest

from shipyard.project import Project
from shipyard.store.records import NewReviewItem
from shipyard.ui.access import CSRF_FIELD
from shipyard.ui.review import REVIEWER_COOKIE


def _queue(demo: Project, count: int, *, blind: bool = False) -> list[str]:
    """Queue ``count`` of the demo's logged answers for review, as the server would
    (oldest first); their prediction ids."""
    rows = demo.prediction_log().read(model="ames", limit=count)
    items = [
        NewReviewItem(
            model="ames",
            version=int(row["version"]),
            prediction_id=str(row["prediction_id"]),
            inputs=dict(row["inputs"]),
            suggestion=float(row["prediction"]),
            probabilities=None,
            confidence=None,
            interval=(float(row["prediction"]) - 5000.0, float(row["prediction"]) + 5000.0),
            reasons=["interval wider than allowed"],
            blind=blind,
            labels_required=1,
        )
        for _, row in rows.iloc[::-1].iterrows()
    ]
    assert demo.store.review.enqueue(items) == count
    return [item.prediction_id for item in items]


def _csrf(page: httpx.Response) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found is not None, "the page carries a form"
    return found.group(1)


def _claim(dashboard: httpx.Client) -> tuple[int, httpx.Response]:
    """Take the next ames item as this browser's reviewer; its id and page."""
    taken = dashboard.get("/review/ames/next")
    assert taken.status_code == 303
    location = taken.headers["location"]
    assert location.startswith("/review/items/")
    page = dashboard.get(location)
    assert page.status_code == 200
    return int(location.rsplit("/", 1)[1]), page


def _feedback(demo: Project, prediction_id: str) -> list[object]:
    return [f.label for f in demo.store.predictions.feedback(prediction_ids=[prediction_id])]


def test_the_queue_page_shows_depth_and_stats_and_starts_reviewing(
    demo: Project, dashboard: httpx.Client
) -> None:
    _queue(demo, 3)
    page = dashboard.get("/review")
    assert page.status_code == 200
    row = page.text[page.text.index('href="/review?model=ames"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">3</td>' in row
    assert 'href="/review/ames/next"' in row
    assert "automation level" not in page.text  # statistics only for a model asked for
    page = dashboard.get("/review?model=ames")
    stats = demo.review.stats("ames")
    assert f"automation level <strong>{stats.level}</strong>" in page.text
    assert f'<div class="value">{stats.auto.labelled:,}</div>' in page.text
    assert "Reviewing as" in page.text and 'value="dashboard"' in page.text


def test_labelling_an_item_stores_the_label_as_feedback_and_goes_to_the_next(
    demo: Project, dashboard: httpx.Client
) -> None:
    first, second = _queue(demo, 2)
    item_id, page = _claim(dashboard)
    item = demo.store.review.item(item_id)
    assert item.prediction_id == first and item.claimed_by == "dashboard"
    assert "interval wider than allowed" in page.text
    assert f'name="label" value="{item.suggestion}"' in page.text  # "Accept suggestion"
    assert 'data-key="a"' in page.text and 'data-key="s"' in page.text
    assert '<input id="review-label" name="label" type="number"' in page.text
    for column in list(item.inputs)[:5]:
        assert f"<td>{column}</td>" in page.text

    done = dashboard.post(
        f"/review/items/{item_id}/label", data={"label": "123456.5", CSRF_FIELD: _csrf(page)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/review/ames/next"
    stored = demo.store.review.item(item_id)
    assert stored.status == "resolved" and stored.label == 123456.5
    assert [label.reviewer for label in stored.labels] == ["dashboard"]
    assert _feedback(demo, first) == [123456.5]

    following = dashboard.get(done.headers["location"])
    next_page = dashboard.get(following.headers["location"])
    assert (
        demo.store.review.item(int(following.headers["location"].rsplit("/", 1)[1])).prediction_id
        == second
    )
    assert f"item {item_id} resolved (single): 123456.5; recorded as feedback" in next_page.text


def test_accepting_the_suggestion_and_skipping_with_a_reason(
    demo: Project, dashboard: httpx.Client
) -> None:
    first, second = _queue(demo, 2)
    before = _feedback(demo, second)
    item_id, page = _claim(dashboard)
    suggestion = demo.store.review.item(item_id).suggestion
    accepted = re.search(
        r'name="label" value="([^"]+)">\s*<button class="secondary" type="submit" data-key="a"',
        page.text,
    )
    assert accepted is not None
    dashboard.post(
        f"/review/items/{item_id}/label", data={"label": accepted.group(1), CSRF_FIELD: _csrf(page)}
    )
    assert _feedback(demo, first) == [pytest.approx(suggestion)]

    skipped_id, page = _claim(dashboard)
    done = dashboard.post(
        f"/review/items/{skipped_id}/skip",
        data={"reason": "photo missing", CSRF_FIELD: _csrf(page)},
    )
    assert done.status_code == 303
    skipped = demo.store.review.item(skipped_id)
    # The queue takes the reason (project.review.skip) but its store keeps none yet.
    assert [(label.action, label.reviewer) for label in skipped.labels] == [("skip", "dashboard")]
    assert skipped.status == "skipped" and _feedback(demo, second) == before
    nothing = dashboard.get("/review/ames/next")
    assert nothing.headers["location"] == "/review?model=ames"
    assert "nothing to review" in dashboard.get("/review?model=ames").text


def test_an_item_held_by_another_reviewer_is_refused_with_a_message(
    demo: Project, dashboard: httpx.Client
) -> None:
    [prediction_id] = _queue(demo, 1)
    before = _feedback(demo, prediction_id)
    view = demo.review.claim("ana", model="ames")
    assert view is not None
    item_id = view.item.id
    page = dashboard.get(f"/review/items/{item_id}")
    assert "ana holds this item." in page.text
    assert 'data-key="a"' not in page.text

    refused = dashboard.post(
        f"/review/items/{item_id}/label", data={"label": "1000", CSRF_FIELD: _csrf(page)}
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/review/items/{item_id}"
    shown = dashboard.get(refused.headers["location"])
    assert '<div class="flash error" role="status">' in shown.text and "ana" in shown.text
    assert demo.store.review.item(item_id).labels == []
    assert _feedback(demo, prediction_id) == before


def test_the_reviewer_name_is_kept_in_a_cookie_and_used_to_claim(
    demo: Project, dashboard: httpx.Client
) -> None:
    _queue(demo, 1)
    page = dashboard.get("/review")
    changed = dashboard.post(
        "/review/reviewer", data={"reviewer": "Zoë", "next": "/review", CSRF_FIELD: _csrf(page)}
    )
    assert changed.status_code == 303 and REVIEWER_COOKIE in changed.headers["set-cookie"]
    assert 'value="Zoë"' in dashboard.get("/review").text
    item_id, _ = _claim(dashboard)
    assert demo.store.review.item(item_id).claimed_by == "Zoë"


def test_unknown_items_and_models_are_404_and_forged_forms_change_nothing(
    demo: Project, dashboard: httpx.Client
) -> None:
    assert dashboard.get("/review/items/999999").status_code == 404
    assert dashboard.get("/review/nosuchmodel/next").status_code == 404
    _queue(demo, 1)
    item_id, page = _claim(dashboard)
    forged = dashboard.post(f"/review/items/{item_id}/label", data={"label": "5"})
    assert forged.status_code == 403
    forged = dashboard.post(f"/review/items/{item_id}/skip", data={CSRF_FIELD: "guess"})
    assert forged.status_code == 403
    assert demo.store.review.item(item_id).labels == []
    missing = dashboard.post(
        "/review/items/999999/label", data={"label": "5", CSRF_FIELD: _csrf(page)}
    )
    assert missing.status_code == 404


def test_a_blind_item_hides_the_models_answer(demo: Project, dashboard: httpx.Client) -> None:
    _queue(demo, 1, blind=True)
    item_id, page = _claim(dashboard)
    suggestion = demo.store.review.item(item_id).suggestion
    assert "blind review" in page.text and 'class="suggestion"' not in page.text
    assert f"{suggestion}" not in page.text
    assert 'data-key="a"' not in page.text and "Accept suggestion" not in page.text
    assert 'data-key="s"' in page.text
