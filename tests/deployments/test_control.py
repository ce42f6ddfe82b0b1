"""Deploying, moving, switching, promoting and rolling back, through the Python API:
what each change does, what it records, and what it refuses (changing nothing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Project
from shipyard.errors import DeploymentConflict, DeploymentError, ModelNotFound, NoDeployment


@pytest.fixture(scope="module")
def trained(two_versions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model 'houses' with blessed versions 1 and 2, and version 3, not blessed."""
    folder = tmp_path_factory.mktemp("control") / "houses"
    shutil.copytree(two_versions, folder)
    with Project.open(folder) as project:
        second = project.registry.resolve("houses:2")
        project.registry.register("houses", package_id=second.package.id, blessed=False)
    return folder


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Iterator[Project]:
    """A copy of the trained project with version 1 in production and no deployment."""
    folder = tmp_path / "houses"
    shutil.copytree(trained, folder)
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="start")
        yield project


def test_a_canary_is_deployed_moved_and_promoted(project: Project) -> None:
    deployments = project.deployments
    record = deployments.deploy("houses", 2, strategy="canary", reason="try it", actor="ann")
    assert (record.primary_version, record.candidate_version, record.percent) == (1, 2, 10.0)
    assert deployments.current("houses") == record and deployments.active() == [record]

    moved = deployments.set_percent("houses", 50, actor="ann")
    assert moved.percent == 50 and moved.revision == record.revision + 1
    promoted = deployments.promote("houses", reason="it holds up", actor="bob")
    assert promoted.status == "promoted" and promoted.ended_at is not None
    assert deployments.current("houses") is None
    assert project.registry.resolve("houses@production").version == 2
    history = [(e.action, e.actor) for e in deployments.history("houses")]
    assert history == [("deploy", "ann"), ("percent", "ann"), ("promote", "bob")]
    moves = project.registry.history("houses")
    assert (moves[-1].from_version, moves[-1].to_version, moves[-1].reason) == (
        1, 2, "it holds up"
    )  # fmt: skip


def test_a_rollback_ends_the_deployment_and_then_undoes_a_promotion(project: Project) -> None:
    deployments = project.deployments
    deployments.deploy("houses", 2, strategy="shadow")
    ended = deployments.rollback("houses", reason="answers differ")
    assert ended.status == "rolled_back" and ended.live == "primary"
    assert project.registry.resolve("houses@production").version == 1

    deployments.deploy("houses", 2, strategy="canary", percent=5)
    deployments.promote("houses")
    assert project.registry.resolve("houses@production").version == 2
    undone = deployments.rollback("houses", reason="worse on feedback")
    assert project.registry.resolve("houses@production").version == 1
    assert undone.status == "rolled_back"
    assert deployments.history("houses")[-1].details == {"undid": "promote"}
    with pytest.raises(NoDeployment, match="nothing to roll back"):
        deployments.rollback("houses")


def test_blue_green_switches_back_and_forth_and_takes_no_percent(project: Project) -> None:
    deployments = project.deployments
    with pytest.raises(DeploymentError, match="takes no percent"):
        deployments.deploy("houses", 2, strategy="blue-green", percent=20)
    record = deployments.deploy("houses", 2, strategy="blue-green")
    assert record.live == "primary"
    assert deployments.switch("houses").live == "candidate"
    assert deployments.switch("houses").live == "primary"
    with pytest.raises(DeploymentConflict, match="`switch` moves its traffic"):
        deployments.set_percent("houses", 30)


def test_an_analysed_canary_starts_at_its_first_step(project: Project) -> None:
    record = project.deployments.deploy(
        "houses", 2, steps=[5, 25, 100], interval_seconds=30, max_failures=2
    )
    assert record.percent == 5 and record.next_analysis_at is not None
    assert record.analysis == {
        "steps": [5.0, 25.0, 100.0], "interval_seconds": 30.0, "max_failures": 2,
        "step": 0, "failures": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("version", "options", "error", "message"),
    [
        (9, {}, DeploymentError, r"model 'houses' has no version 9; its versions: 1, 2, 3"),
        ("other:2", {}, DeploymentError, "belongs to model 'other', not 'houses'"),
        (3, {}, DeploymentError, "version 3 of 'houses' is not blessed"),
        (3, {"force": True}, DeploymentError, "needs a reason"),
        (1, {}, DeploymentConflict, "already the production version"),
        (2, {"percent": 101}, DeploymentError, "percent must be from 0 to 100, not 101"),
        (2, {"percent": -1}, DeploymentError, "percent must be from 0 to 100"),
        (2, {"strategy": "canery"}, DeploymentError, "did you mean 'canary'"),
        (2, {"steps": [50, 10]}, DeploymentError, "steps must rise"),
        (2, {"strategy": "shadow", "steps": [5]}, DeploymentError, "by hand"),
        (2, {"max_failures": 0}, DeploymentError, "max_failures must be at least 1"),
    ],
)
def test_bad_deployments_are_refused_and_change_nothing(
    project: Project, version: int | str, options: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        project.deployments.deploy("houses", version, **options)  # type: ignore[arg-type]
    assert project.deployments.history("houses") == []


def test_an_unknown_model_is_named(project: Project) -> None:
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        project.deployments.deploy("nope", 1)


def test_a_second_candidate_is_refused_naming_the_first(project: Project) -> None:
    project.deployments.deploy("houses", 2, percent=20)
    with pytest.raises(DeploymentConflict, match=r"already has a candidate: canary v2 at 20%"):
        project.deployments.deploy("houses", 3, force=True, reason="x")
    assert len(project.deployments.history("houses")) == 1


def test_forcing_an_unblessed_version_records_the_reason(project: Project) -> None:
    record = project.deployments.deploy("houses", 3, force=True, reason="hotfix, gate is stale")
    (event,) = project.deployments.history("houses")
    assert record.candidate_version == 3
    assert (event.reason, event.details) == ("hotfix, gate is stale", {"forced": True})


def test_a_candidate_that_cannot_load_is_refused(project: Project) -> None:
    # A version whose "package" is the training data: it cannot be loaded as a model.
    run = project.runs()[-1]
    examples = next(s for s in project.run_steps(run.id) if s.step == "ExampleGen")
    data = examples.outputs["examples"]
    broken = project.registry.register("houses", package_id=data.id, blessed=True)
    with pytest.raises(DeploymentError, match=f"version {broken.version} of 'houses' cannot be"):
        project.deployments.deploy("houses", broken.version)
    assert project.deployments.current("houses") is None
