"""The arms of a deployment compared on logged traffic: counts, latency, agreement,
output distance and feedback, with shadow answers joined to their returned answer."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from shipyard import Project
from shipyard.deployments.comparison import compare_arms
from shipyard.errors import DeploymentError, NoDeployment
from shipyard.prediction_log import PredictionRecord, new_prediction_ids
from shipyard.prediction_log.feedback import labels_frame
from tests.deployments.traffic import Arm, serve


@pytest.fixture
def project(two_versions: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of the trained project: version 1 in production, version 2 deployable."""
    folder = tmp_path / "houses"
    shutil.copytree(two_versions, folder)
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="start")
        yield project


def test_a_canary_is_compared_with_its_primary_on_the_same_requests(project: Project) -> None:
    deployment = project.deployments.deploy("houses", 2, percent=50)
    served = serve(
        project,
        primary=Arm(1, noise=5_000, latency_ms=2),
        candidate=Arm(2, noise=5_000, bias=20_000, latency_ms=10),
        requests=200,
        seed=1,
        deployment_id=deployment.id,
        labels=True,
    )
    comparison = project.deployments.compare("houses")
    primary, candidate = comparison.primary, comparison.candidate
    assert (primary.version, candidate.version, comparison.task) == (1, 2, "regression")
    assert (primary.requests, primary.shadow_requests, primary.answers) == (200, 200, 400)
    assert (candidate.requests, candidate.shadow_requests, candidate.answers) == (200, 0, 200)
    assert candidate.error_rate == 0.0
    # Latency of returned answers, and apart from it a shadow's model call alone.
    assert (primary.shadow_answers, candidate.shadow_answers) == (200, 0)
    assert 1.6 <= primary.shadow_latency_p50_ms <= 2.4  # type: ignore[operator]
    assert candidate.shadow_latency_p99_ms is None
    assert 1.6 <= primary.latency_p50_ms <= 2.4 and 9.5 <= candidate.latency_p99_ms <= 12  # type: ignore[operator]

    # Agreement on the 200 requests both answered: the candidate is 20k above.
    agreement = comparison.agreement
    assert agreement.pairs == 200 and agreement.share_same is None
    assert agreement.mean_absolute_difference == pytest.approx(20_000, rel=0.1)
    assert agreement.mean_relative_difference == pytest.approx(0.1, rel=0.15)
    assert comparison.output_basis == "pairs" and 0.05 < comparison.output_distance < 0.6  # type: ignore[operator]

    # Every returned answer was labelled; the primary's shadows share the candidate's.
    assert (primary.labelled, candidate.labelled) == (400, 200)
    assert primary.metrics["rmse"] == pytest.approx(5_000, rel=0.15)
    assert candidate.metrics["rmse"] == pytest.approx(np.hypot(20_000, 5_000), rel=0.1)
    paired = comparison.paired_feedback
    assert paired.labelled == 200 and paired.candidate["mae"] > 3 * paired.primary["mae"]
    assert len(served.returned) == 400

    payload = comparison.to_dict()
    assert payload["candidate"]["error_rate"] == 0.0 and payload["agreement"]["pairs"] == 200
    assert payload["deployment"]["describe"] == "canary v2 at 50% beside v1"


def test_the_window_starts_at_since_and_counts_errors(project: Project) -> None:
    deployment = project.deployments.deploy("houses", 2, percent=50)
    serve(project, primary=Arm(1), candidate=Arm(2), requests=50, seed=2)
    time.sleep(0.01)
    middle = datetime.now(UTC)
    serve(
        project,
        primary=Arm(1),
        candidate=Arm(2, errors=5),
        requests=30,
        seed=3,
        deployment_id=deployment.id,
    )
    comparison = project.deployments.compare("houses", since=middle)
    assert (comparison.primary.answers, comparison.candidate.answers) == (60, 30)
    assert comparison.agreement.pairs == 30 and comparison.since == middle
    assert (comparison.candidate.requests, comparison.candidate.errors) == (35, 5)
    assert comparison.candidate.error_rate == pytest.approx(5 / 35)
    assert comparison.primary.labelled == 0 and comparison.primary.metrics == {}
    # An age works too, and the whole deployment is the default window.
    assert project.deployments.compare("houses", since="1h").candidate.answers == 80


def test_an_ended_deployment_is_still_compared_up_to_its_end(project: Project) -> None:
    project.deployments.deploy("houses", 2, percent=50)
    serve(project, primary=Arm(1), candidate=Arm(2), requests=20, seed=4)
    ended = project.deployments.rollback("houses", reason="enough")
    serve(project, primary=Arm(1), candidate=Arm(2), requests=20, seed=5)
    comparison = project.deployments.compare("houses")
    assert comparison.deployment.id == ended.id and comparison.until == ended.ended_at
    assert comparison.candidate.answers == 20


def test_comparing_without_a_deployment_or_with_a_naive_time_is_refused(
    project: Project,
) -> None:
    with pytest.raises(NoDeployment, match="'houses' has never been deployed"):
        project.deployments.compare("houses")
    project.deployments.deploy("houses", 2)
    with pytest.raises(DeploymentError, match="has no time zone"):
        project.deployments.compare("houses", since=datetime(2024, 1, 1))


def _classification_frame(
    primary: list[str], candidate: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Canary answers of a classifier: the candidate's, each shadowed by the primary."""
    ids = new_prediction_ids(2 * len(primary))
    records = []
    for i, (mine, theirs) in enumerate(zip(candidate, primary, strict=True)):
        answer, shadow = ids[2 * i], ids[2 * i + 1]
        common = {"model": "kind", "inputs": {}, "latency_ms": 1.0}
        records.append(
            PredictionRecord(
                prediction_id=answer, version=2, prediction=mine, variant="candidate", **common
            )
        )  # type: ignore[arg-type]
        records.append(
            PredictionRecord(
                prediction_id=shadow,
                version=1,
                prediction=theirs,
                variant="shadow",
                shadow_of=answer,
                **common,
            )
        )  # type: ignore[arg-type]
    return pd.DataFrame([_row(r) for r in records]), ids[::2]


def _row(record: PredictionRecord) -> dict[str, object]:
    return {
        "prediction_id": record.prediction_id,
        "timestamp": pd.Timestamp(record.timestamp),
        "model": record.model,
        "version": record.version,
        "variant": record.variant,
        "shadow_of": record.shadow_of,
        "prediction": record.prediction,
        "probabilities": None,
        "latency_ms": record.latency_ms,
        "inputs": {},
    }


def test_classifiers_agree_on_a_share_and_differ_by_jensen_shannon(project: Project) -> None:
    deployment = project.deployments.deploy("houses", 2, percent=50)
    primary = ["yes"] * 60 + ["no"] * 40
    candidate = ["yes"] * 50 + ["no"] * 10 + ["no"] * 40  # 10 answers changed
    frame, returned = _classification_frame(primary, candidate)
    # Labels: the truth is the primary's answer on the first 80 rows, the other class after.
    truth = [p if i < 80 else ("no" if p == "yes" else "yes") for i, p in enumerate(primary)]
    from shipyard.store.predictions import FeedbackRecord

    labels = labels_frame(
        [
            FeedbackRecord(prediction_id=pid, label=label, received_at=datetime.now(UTC))
            for pid, label in zip(returned, truth, strict=True)
        ]
    )
    comparison = compare_arms(
        deployment,
        frame,
        task="classification",
        counts={},
        labels=labels,
        since=datetime(2000, 1, 1, tzinfo=UTC),
    )
    assert comparison.agreement.pairs == 100 and comparison.agreement.share_same == 0.9
    expected = jensenshannon([60, 40], [50, 50], base=2)
    assert comparison.output_distance == pytest.approx(expected)
    assert comparison.primary.metrics["accuracy"] == pytest.approx(0.8)
    assert comparison.candidate.metrics["accuracy"] == pytest.approx(0.7)
    assert comparison.paired_feedback.candidate["accuracy"] == pytest.approx(0.7)
    assert comparison.candidate.error_rate is None


@pytest.mark.slow
def test_a_hundred_thousand_predictions_are_compared_quickly(project: Project) -> None:
    deployment = project.deployments.deploy("houses", 2, percent=50)
    serve(
        project,
        primary=Arm(1),
        candidate=Arm(2),
        requests=33_334,
        seed=6,
        deployment_id=deployment.id,
        labels=True,
    )
    started = time.perf_counter()
    comparison = project.deployments.compare("houses")
    elapsed = time.perf_counter() - started
    assert comparison.primary.answers + comparison.candidate.answers == 100_002
    assert comparison.primary.labelled == 66_668
    assert elapsed < 10, f"comparing 100k predictions took {elapsed:.1f} s"
