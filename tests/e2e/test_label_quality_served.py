"""Two reviewers label over HTTP with some disagreements: disputed items go to
adjudication and stay out of training until settled; kappa and guideline versions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from shipyard import Project
from tests.e2e.review_fixtures import classifier_project, instances, noisy_table, wait_for
from tests.e2e.serving_fixtures import RunningServer, served
from tests.helpers import warm_pool

pytestmark = pytest.mark.slow

MODEL = "quality"
GUIDELINE = "# Expensive?\n\nSay *yes* when the house costs more than the median.\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quality") / MODEL
    guideline = folder / "guidelines" / f"{MODEL}.md"
    guideline.parent.mkdir(parents=True)
    guideline.write_text(GUIDELINE)
    return classifier_project(
        folder, MODEL, rows=600, seed=21,
        settings={
            "automation": {"level": "assist"},
            "review": {"double_label_share": 1.0},
            "data": {"include_feedback": True},
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(folder: Path) -> Iterator[RunningServer]:
    yield from served(folder)


def _claim(client: httpx.Client, reviewer: str, *, adjudication: bool = False) -> Any:
    body = {"reviewer": reviewer, "model": MODEL, "adjudication": adjudication}
    response = client.post("/review/claim", json=body)
    assert response.status_code == 200, response.text
    return response.json()["item"]


def _label(client: httpx.Client, item: dict[str, Any], reviewer: str, label: str) -> Any:
    action = "adjudicate" if item["status"] == "disputed" else "label"
    response = client.post(
        f"/review/items/{item['id']}/{action}", json={"reviewer": reviewer, "label": label}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _train(project: Project) -> tuple[int, set[str]]:
    """Run the pipeline: the training split's rows and the labelled predictions in it."""
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()
    examples = result.output("ExampleGen", "examples")
    snapshot = project.artifacts.materialize(examples.digest, "dir") / "feedback.parquet"
    included = set(pq.read_table(snapshot)["prediction_id"].to_pylist())
    return int(examples.properties["train_rows"]), included


def test_disputes_are_adjudicated_before_they_train_and_kappa_is_cohens(
    folder: Path, server: RunningServer
) -> None:
    rows = instances(noisy_table(12, seed=31))
    with server.client() as client:
        body = client.post("/predict", json={"instances": rows}).json()
        assert body["decisions"] == ["review"] * 12  # assist: every answer is a suggestion
        ids = body["prediction_ids"]
        with Project.open(folder) as project:
            assert wait_for(lambda: len(project.review.items(model=MODEL, limit=None)) == 12)

        # ana labels as the model suggests; bo disagrees on every third item.
        first: dict[str, str] = {}
        second: dict[str, str] = {}
        for reviewer, labels in (("ana", first), ("bo", second)):
            while (item := _claim(client, reviewer)) is not None:
                assert item["guideline"]["text"] == GUIDELINE
                assert item["labels"] == []  # never another reviewer's label
                suggestion = item["suggestion"]
                flip = reviewer == "bo" and ids.index(item["prediction_id"]) % 3 == 0
                label = ("no" if suggestion == "yes" else "yes") if flip else suggestion
                labels[item["prediction_id"]] = label
                _label(client, item, reviewer, label)
        assert len(first) == len(second) == 12
        disputed = {pid for pid in ids if first[pid] != second[pid]}
        assert len(disputed) == 4

        listed = client.get("/review/items", params={"model": MODEL, "status": "disputed"})
        assert {item["prediction_id"] for item in listed.json()} == disputed

        # Kappa from its definition, over the pairs of labels given.
        pairs = [(first[pid], second[pid]) for pid in ids]
        observed = sum(a == b for a, b in pairs) / len(pairs)
        a, b = Counter(p[0] for p in pairs), Counter(p[1] for p in pairs)
        chance = sum(a[c] * b[c] for c in set(a) | set(b)) / len(pairs) ** 2
        stats = client.get(f"/review/stats/{MODEL}").json()
        assert stats["agreement"]["pairs"] == 12
        assert stats["agreement"]["percent_agreement"] == pytest.approx(observed)
        assert stats["agreement"]["kappa"] == pytest.approx((observed - chance) / (1 - chance))

        with Project.open(folder) as project:
            labelled = set(project.prediction_log().labels()["prediction_id"])
            assert labelled == set(ids) - disputed  # disputed: no feedback yet
            before, included = _train(project)
            assert included == set(ids) - disputed

        # The adjudicator settles the disputes: now they train too.
        while (item := _claim(client, "cy", adjudication=True)) is not None:
            assert {label["reviewer"] for label in item["labels"]} == {"ana", "bo"}
            _label(client, item, "cy", first[item["prediction_id"]])
        with Project.open(folder) as project:
            after, included = _train(project)
            assert included == set(ids)
        assert after == before + len(disputed)

        resolved = client.get(
            "/review/items", params={"model": MODEL, "status": "resolved", "limit": 100}
        ).json()
        assert len(resolved) == 12
        assert {label["guideline_version"] for e in resolved for label in e["labels"]} == {1}
        assert Counter(e["resolution"] for e in resolved) == {"agreed": 8, "adjudicated": 4}
