"""Human review over HTTP on a real server: automation levels, the queue, two reviewers,
adjudication, and labels back into training."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from shipyard import Project
from tests.e2e.review_fixtures import (
    TARGET,
    classifier_project,
    instances,
    noisy_table,
    wait_for,
)
from tests.e2e.serving_fixtures import RunningServer, served

pytestmark = pytest.mark.slow

MODEL = "churn"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return classifier_project(
        tmp_path_factory.mktemp("review") / MODEL, MODEL, rows=2500, seed=3,
        settings={
            "automation": {"level": "partial", "target_precision": 0.95},
            "review": {"double_label_share": 0.0, "lease_seconds": 60},
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[RunningServer]:
    yield from served(folder)


def predict(client: httpx.Client, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def set_level(client: httpx.Client, level: str) -> None:
    body = {"level": level, "reason": "test"}
    response = client.post(f"/admin/automation/{MODEL}/level", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["level"] == level


def test_partial_automation_keeps_the_promise_made_at_training(
    folder: Path, server: RunningServer
) -> None:
    with Project.open(folder) as project:
        metrics = project.registry.resolve(f"{MODEL}@production").metrics
    promised_share = metrics["expected_auto_share"]
    promised_precision = metrics["expected_auto_precision"]
    assert 0.2 < promised_share < 1.0  # noisy labels: some answers must go to review

    held_out = noisy_table(3000, seed=77)
    rows = instances(held_out)
    decisions: list[str] = []
    answers: list[Any] = []
    with server.client() as client:
        for begin in range(0, len(rows), 100):
            body = predict(client, rows[begin : begin + 100])
            decisions += body["decisions"]
            answers += body["predictions"]
    auto = np.array([decision == "auto" for decision in decisions])
    right = np.array(answers, dtype=object) == held_out[TARGET].to_numpy(dtype=object)
    share, precision = auto.mean(), right[auto].mean()
    assert abs(share - promised_share) < 0.06
    assert precision >= 0.95 - 0.03
    assert abs(precision - promised_precision) < 0.04
    # Every answer marked for review is in the queue.
    with Project.open(folder) as project:
        queued = wait_for(
            lambda: len(project.review.items(model=MODEL, limit=None)) >= int((~auto).sum())
        )
    assert queued


def test_an_input_unlike_the_training_data_always_goes_to_review(server: RunningServer) -> None:
    row = instances(noisy_table(1, seed=5))[0]
    with server.client() as client:
        odd = predict(client, [{**row, "size": 10_000.0}, {**row, "area": "atlantis"}])
    assert odd["decisions"] == ["review", "review"]
    assert odd["predictions"][0] is not None  # a suggestion, shown at 'partial'


def test_queue_depth_is_in_the_metrics(server: RunningServer) -> None:
    with server.client() as client:
        text = wait_for(
            lambda: (
                (t := client.get("/metrics").text)
                and f'shipyard_review_queue_depth{{model="{MODEL}",status="open"}}' in t
                and t
            )
        )
    assert text
    assert f'shipyard_review_oldest_item_age_seconds{{model="{MODEL}"}}' in text
    assert Counter(line.split("{")[0] for line in text.splitlines())[
        "shipyard_review_queued_items_total"
    ]


def test_two_reviewers_claiming_at_once_never_get_the_same_item(
    server: RunningServer,
) -> None:
    held: dict[str, list[int]] = {"ana": [], "bo": []}

    def work(name: str) -> None:
        with server.client() as client:
            for _ in range(15):
                response = client.post("/review/claim", json={"reviewer": name, "model": MODEL})
                assert response.status_code == 200, response.text
                item = response.json()["item"]
                if item is None:
                    return
                held[name].append(item["id"])
                # A skip closes the item: neither reviewer can meet it again.
                skipped = client.post(
                    f"/review/items/{item['id']}/skip", json={"reviewer": name, "reason": "t"}
                )
                assert skipped.status_code == 200, skipped.text

    threads = [threading.Thread(target=work, args=(name,)) for name in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(held["ana"]) == len(held["bo"]) == 15
    assert not set(held["ana"]) & set(held["bo"])


def test_a_label_of_the_wrong_class_or_on_an_item_held_by_another_changes_nothing(
    server: RunningServer,
) -> None:
    with server.client() as client:
        item = client.post("/review/claim", json={"reviewer": "ana", "model": MODEL}).json()["item"]
        assert item is not None
        url = f"/review/items/{item['id']}"
        wrong = client.post(f"{url}/label", json={"reviewer": "ana", "label": "maybe"})
        assert wrong.status_code == 422 and wrong.json()["field"] == "label"
        assert "'maybe' is not a class" in wrong.json()["detail"]
        theirs = client.post(f"{url}/label", json={"reviewer": "bo", "label": "yes"})
        assert theirs.status_code == 409 and "ana" in theirs.json()["detail"]
        missing = client.post(
            "/review/items/999999/label", json={"reviewer": "ana", "label": "yes"}
        )
        assert missing.status_code == 404
        after = client.get(url).json()
        assert after["status"] == "open" and after["labels_given"] == 0
        assert after["claimed_by"] == "ana"
        client.post(f"{url}/release", json={"reviewer": "ana"})


def test_at_the_shadow_level_nobody_sees_the_models_answer(
    folder: Path, server: RunningServer
) -> None:
    row = instances(noisy_table(1, seed=11))[0]
    with Project.open(folder) as project:  # only the item made here stays open
        project.store.review.expire(datetime.now(UTC))
    with server.client() as client:
        set_level(client, "shadow")
        try:
            body = wait_for(lambda: (b := predict(client, [row]))["predictions"] == [None] and b)
            assert body, "the server did not follow the level within 20 s"
            assert body["decisions"] == ["review"] and "probabilities" not in body
            prediction_id = body["prediction_ids"][0]
            with Project.open(folder) as project:
                logged = project.prediction(prediction_id)
                assert logged.prediction in ("yes", "no")  # the model's answer is logged
            claim = {"reviewer": "cy", "model": MODEL}
            item = wait_for(lambda: client.post("/review/claim", json=claim).json()["item"])
            assert item is not None and item["prediction_id"] == prediction_id
            assert item["blind"] is True and item["suggestion"] is None
            assert item["probabilities"] is None and item["confidence"] is None
            labelled = client.post(
                f"/review/items/{item['id']}/label", json={"reviewer": "cy", "label": "no"}
            )
            assert labelled.status_code == 200, labelled.text
            assert labelled.json()["status"] == "resolved"
            with Project.open(folder) as project:
                labels = project.prediction_log().labels()
            assert labels.set_index("prediction_id").loc[prediction_id, "label"] == "no"
        finally:
            set_level(client, "partial")
