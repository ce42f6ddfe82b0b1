"""The automatic canary analysis through the Python API: a good candidate is promoted
step by step, a worse or slower one is rolled back with its reasons recorded, too little
data waits, and the lease keeps a second analyser off."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Project
from shipyard.deployments.analysis import ANALYST, AnalysisDecision
from shipyard.errors import DeploymentError, ModelNotFound
from shipyard.store.records import DeploymentRecord
from tests.deployments.traffic import Arm, analysed_copy, serve

INTERVAL = 0.2
PRIMARY = Arm(1, noise=5_000, latency_ms=2)
GOOD = Arm(2, noise=5_000, latency_ms=2.5)


@pytest.fixture
def project(two_versions: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of the trained project, version 1 in production, checks on 20 answers."""
    with Project.open(analysed_copy(two_versions, tmp_path / "houses")) as project:
        yield project


def deploy(project: Project, **options: object) -> DeploymentRecord:
    return project.deployments.deploy(
        "houses",
        2,
        strategy="canary",
        steps=options.pop("steps", [5, 25, 50, 100]),  # type: ignore[arg-type]
        interval_seconds=INTERVAL,
        max_failures=options.pop("max_failures", 2),  # type: ignore[arg-type]
    )


def next_pass(project: Project) -> list[AnalysisDecision]:
    """Wait until the next check is due, then run one pass."""
    current = project.deployments.current("houses")
    assert current is not None and current.next_analysis_at is not None
    time.sleep(max(0.0, (current.next_analysis_at.timestamp() - time.time())) + 0.01)
    return project.canary_analysis().run_once("houses")


def test_a_good_candidate_is_promoted_step_by_step(project: Project) -> None:
    record = deploy(project)
    assert record.percent == 5
    seen = []
    for seed in range(4):
        serve(
            project,
            primary=PRIMARY,
            candidate=GOOD,
            requests=30,
            seed=seed,
            deployment_id=record.id,
            labels=True,
        )
        (decision,) = next_pass(project)
        seen.append((decision.outcome, decision.percent))
        assert all(c.status in {"pass", "skip"} for c in decision.checks), decision.reason
    assert seen == [("advance", 25), ("advance", 50), ("advance", 100), ("promote", 100)]
    assert project.deployments.current("houses") is None
    assert project.registry.resolve("houses@production").version == 2

    history = project.deployments.history("houses")
    assert [(e.action, e.after["percent"]) for e in history] == [  # type: ignore[index]
        ("deploy", 5), ("advance", 25), ("advance", 50), ("advance", 100), ("promote", 100),
    ]  # fmt: skip
    last = history[-1]
    assert last.actor == ANALYST and "every check passed at 100%, the last step" in last.reason
    names = [(c["name"], c["status"]) for c in last.details["checks"]]
    assert names == [
        ("error_rate", "pass"), ("p99_latency", "pass"), ("agreement", "pass"),
        ("output_drift", "pass"), ("feedback", "pass"),
    ]  # fmt: skip


def test_a_candidate_worse_on_feedback_is_rolled_back_with_the_reason(project: Project) -> None:
    record = deploy(project)
    worse = Arm(2, noise=30_000, latency_ms=2)  # close in the mean, far worse on labels
    outcomes = []
    for seed in range(2):
        serve(
            project,
            primary=PRIMARY,
            candidate=worse,
            requests=30,
            seed=seed,
            deployment_id=record.id,
            labels=True,
        )
        (decision,) = next_pass(project)
        outcomes.append(decision.outcome)
        failed = {c.name for c in decision.checks if c.status == "fail"}
        assert failed == {"feedback"}, decision.reason
    assert outcomes == ["failed", "rollback"]
    ended = project.deployments.deployments("houses")[0]
    assert ended.status == "rolled_back" and ended.percent == 5
    assert project.registry.resolve("houses@production").version == 1
    event = project.deployments.history("houses")[-1]
    assert event.action == "rollback" and event.actor == ANALYST
    assert "failure 2 of 2 at 5%, roll back: feedback: candidate rmse" in event.reason
    feedback = next(c for c in event.details["checks"] if c["name"] == "feedback")
    assert feedback["status"] == "fail" and feedback["value"] > 1 and feedback["bound"] == 0.05
    assert project.deployments.history("houses")[-2].action == "failed"


def test_a_much_slower_candidate_is_rolled_back_for_latency(project: Project) -> None:
    record = deploy(project, max_failures=1)
    slow = Arm(2, noise=5_000, latency_ms=40)
    serve(project, primary=PRIMARY, candidate=slow, requests=30, seed=1, deployment_id=record.id)
    (decision,) = next_pass(project)
    assert decision.outcome == "rollback"
    latency = next(c for c in decision.checks if c.name == "p99_latency")
    assert latency.status == "fail" and latency.value > 10  # type: ignore[operator]
    assert "p99_latency: candidate p99" in project.deployments.history("houses")[-1].reason


def test_failing_requests_fail_the_error_rate_check(project: Project) -> None:
    record = deploy(project)
    serve(
        project,
        primary=PRIMARY,
        candidate=Arm(2, errors=3),
        requests=30,
        seed=1,
        deployment_id=record.id,
    )
    (decision,) = next_pass(project)
    assert decision.outcome == "failed" and decision.failures == 1
    (check,) = [c for c in decision.checks if c.status == "fail"]
    assert check.name == "error_rate" and check.value == pytest.approx(3 / 33)
    current = project.deployments.current("houses")
    assert current is not None and current.analysis["failures"] == 1  # type: ignore[index]
    assert current.percent == 5


def test_without_enough_data_the_analysis_waits(project: Project) -> None:
    record = deploy(project)
    serve(project, primary=PRIMARY, candidate=GOOD, requests=5, seed=1, deployment_id=record.id)
    (decision,) = next_pass(project)
    assert decision.outcome == "wait" and decision.percent == 5 and decision.failures == 0
    waiting = {c.name for c in decision.checks if c.status == "wait"}
    assert waiting == {"error_rate", "p99_latency", "agreement", "output_drift"}
    current = project.deployments.current("houses")
    assert current is not None and current.percent == 5
    assert current.next_analysis_at > record.next_analysis_at  # type: ignore[operator]
    assert project.deployments.history("houses")[-1].action == "wait"
    # Nothing is due before the next check time.
    assert project.canary_analysis().run_once("houses") == []

    # The window kept growing: 5 + 25 answers now suffice.
    serve(project, primary=PRIMARY, candidate=GOOD, requests=25, seed=2, deployment_id=record.id)
    (decision,) = next_pass(project)
    assert decision.outcome == "advance" and decision.percent == 25


def test_a_leased_deployment_is_left_to_its_holder(project: Project) -> None:
    record = deploy(project)
    serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=1, deployment_id=record.id)
    assert project.store.deployments.take_lease(record.id, "other-analyser", 30)
    time.sleep(INTERVAL + 0.05)
    (decision,) = project.canary_analysis().run_once("houses")
    assert decision.outcome == "busy"
    current = project.deployments.current("houses")
    assert current is not None and (current.revision, current.percent) == (record.revision, 5)
    assert current.lease_owner == "other-analyser"

    project.store.deployments.release_lease(record.id, "other-analyser")
    (decision,) = project.canary_analysis().run_once("houses")
    assert decision.outcome == "advance"


def test_two_analysers_at_once_decide_once(two_versions: Path, project: Project) -> None:
    record = deploy(project)
    serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=1, deployment_id=record.id)
    time.sleep(INTERVAL + 0.05)
    with Project.open(project.root) as other:
        results: list[list[AnalysisDecision]] = []
        threads = [
            threading.Thread(target=lambda p=p: results.append(p.canary_analysis().run_once()))
            for p in (project, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    outcomes = sorted(d.outcome for found in results for d in found)
    assert outcomes.count("advance") == 1, outcomes
    assert [e.action for e in project.deployments.history("houses")] == ["deploy", "advance"]


def test_a_new_process_carries_on_from_the_stored_step(project: Project) -> None:
    record = deploy(project)
    serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=1, deployment_id=record.id)
    (decision,) = next_pass(project)
    assert decision.outcome == "advance"
    with Project.open(project.root) as again:  # as a restarted analyser sees it
        current = again.deployments.current("houses")
        assert current is not None and current.analysis["step"] == 1  # type: ignore[index]
        serve(again, primary=PRIMARY, candidate=GOOD, requests=30, seed=2, deployment_id=record.id)
        (decision,) = next_pass(again)
        assert (decision.outcome, decision.step, decision.percent) == ("advance", 2, 50)


def test_watch_keeps_passing_until_stopped(project: Project) -> None:
    record = deploy(project, steps=[10, 100])
    serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=1, deployment_id=record.id)
    stop = threading.Event()
    decisions: list[AnalysisDecision] = []

    def feed(decision: AnalysisDecision) -> None:
        decisions.append(decision)
        if decision.outcome == "advance":
            serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=2,
                  deployment_id=record.id)  # fmt: skip
        if decision.outcome == "promote":
            stop.set()

    watcher = threading.Thread(
        target=project.canary_analysis().watch,
        kwargs={"stop": stop, "poll_seconds": 0.1, "on_decision": feed},
    )
    watcher.start()
    watcher.join(timeout=20)
    stop.set()
    assert [d.outcome for d in decisions] == ["advance", "promote"]


def test_a_candidate_worse_only_by_chance_on_few_labels_is_not_failed(project: Project) -> None:
    record = deploy(project)
    serve(
        project,
        primary=PRIMARY,
        candidate=Arm(2, noise=5_000, latency_ms=3),
        requests=60,
        seed=1,
        deployment_id=record.id,
        labels=True,
    )
    (decision,) = next_pass(project)
    feedback = next(c for c in decision.checks if c.name == "feedback")
    # Same noise as the primary, yet 25% worse on these 60 labels: chance, says the test.
    assert feedback.status == "pass" and feedback.value > 0.2  # type: ignore[operator]
    assert "within chance (z 1.53 <= 2.33)" in feedback.detail
    assert decision.outcome == "advance"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lease_seconds": 0}, "the lease must last a positive time, not 0 s"),
        ({"poll_seconds": -1}, "the poll interval must be positive, not -1 s"),
    ],
)
def test_bad_analysis_options_are_refused(
    project: Project, options: dict[str, float], message: str
) -> None:
    lease = {"lease_seconds": options.pop("lease_seconds")} if "lease_seconds" in options else {}
    with pytest.raises(DeploymentError, match=message):
        project.canary_analysis(**lease).watch(stop=threading.Event(), **options)
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        project.canary_analysis().run_once("nope")


def test_a_failing_pass_is_reported_and_retried_after_an_interval(project: Project) -> None:
    record = deploy(project)
    serve(project, primary=PRIMARY, candidate=GOOD, requests=30, seed=1, deployment_id=record.id)
    time.sleep(INTERVAL + 0.05)
    shutil.rmtree(project.root / ".shipyard" / "artifacts")  # the primary cannot be loaded
    analysis = project.canary_analysis()
    (decision,) = analysis.run_once("houses")
    assert decision.outcome == "error"
    assert "is not in the artifact store" in decision.reason
    assert analysis.run_once("houses") == []  # not again at once
    current = project.deployments.current("houses")
    assert current is not None and current.revision == record.revision  # nothing stored
    assert current.lease_owner is None  # and the lease is given back
