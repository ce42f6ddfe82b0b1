"""Deployment records on SQLite and PostgreSQL: one active per model, revisions, history,
arm counts and the analysis lease."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from shipyard import Project
from shipyard.errors import DeploymentConflict, NoDeployment
from shipyard.store.records import DeploymentRecord
from shipyard.store.tables import DeploymentRow
from tests.store.helpers import an_artifact


@pytest.fixture
def registered(project: Project) -> Project:
    """Model 'm' with versions 1 (production) and 2."""
    package = an_artifact(project.store, "a")
    for _ in range(2):
        project.store.models.register_version(
            "m", package_id=package.id, run_id=None, dataset_version_id=None, blessed=True,
            infra_validated=True, metrics={}, reasons={}, code_version=None,
        )  # fmt: skip
    project.store.models.move_alias("m", "production", 1, actor="t", reason="first")
    return project


def _deploy(project: Project, **changes: Any) -> DeploymentRecord:
    def check(current: DeploymentRecord | None, production: int | None) -> int:
        if current is not None:
            raise DeploymentConflict("busy")
        assert production is not None
        return production

    options: dict[str, Any] = {
        "candidate_version": 2, "strategy": "canary", "percent": 10.0, "sticky_key": None,
        "analysis": None, "next_analysis_at": None, "actor": "ann", "reason": "try 2",
        "details": {}, "check": check,
    } | changes  # fmt: skip
    return project.store.deployments.create("m", **options)


def test_a_deployment_is_created_with_its_primary_and_recorded(registered: Project) -> None:
    repository = registered.store.deployments
    marker = repository.change_marker()
    record = _deploy(registered)
    assert (record.primary_version, record.candidate_version, record.percent) == (1, 2, 10.0)
    assert record.active and record.revision == 1 and record.live == "primary"
    assert repository.active() == [record] == repository.active("m")
    assert repository.get(record.id) == record
    (event,) = repository.history("m")
    assert (event.action, event.actor, event.reason, event.before) == (
        "deploy",
        "ann",
        "try 2",
        None,
    )
    assert event.after == record.state()
    assert repository.change_marker() > marker


def test_the_check_sees_the_active_deployment_and_refuses_a_second(registered: Project) -> None:
    _deploy(registered)
    with pytest.raises(DeploymentConflict, match="busy"):
        _deploy(registered)
    assert len(registered.store.deployments.deployments("m")) == 1
    assert len(registered.store.deployments.history("m")) == 1


def test_changes_bump_the_revision_and_keep_before_and_after(registered: Project) -> None:
    record = _deploy(registered)

    def raise_to_half(_session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
        row.percent = 50.0
        return "percent", {"why": "fine so far"}

    repository = registered.store.deployments
    changed = repository.change("m", None, raise_to_half, actor="bob", reason="looks good")
    assert (changed.percent, changed.revision) == (50.0, 2)
    last = repository.history("m")[-1]
    assert (last.action, last.actor, last.details) == ("percent", "bob", {"why": "fine so far"})
    assert (last.before or {})["percent"] == 10.0 and (last.after or {})["percent"] == 50.0

    with pytest.raises(DeploymentConflict, match="changed meanwhile"):
        repository.change("m", None, raise_to_half, actor="c", reason="", expected_revision=1)
    assert repository.get(record.id) == changed  # nothing changed


def test_a_change_without_a_deployment_names_the_model(registered: Project) -> None:
    def nothing(_session: Session, _row: DeploymentRow) -> tuple[str, dict[str, Any]]:
        return "percent", {}

    with pytest.raises(NoDeployment, match="model 'm' has no deployment"):
        registered.store.deployments.change("m", None, nothing, actor="a", reason="")


def test_every_server_adds_its_arm_counts(registered: Project) -> None:
    record = _deploy(registered)
    repository = registered.store.deployments
    repository.add_counts({(record.id, "primary"): (90, 1), (record.id, "candidate"): (10, 0)})
    repository.add_counts(
        {(record.id, "primary"): (10, 0), (record.id, "candidate.shadow"): (5, 2)}
    )
    counts = repository.counts(record.id)
    assert (counts["primary"].requests, counts["primary"].errors) == (100, 1)
    assert (counts["candidate"].requests, counts["candidate"].errors) == (10, 0)
    assert (counts["candidate.shadow"].requests, counts["candidate.shadow"].errors) == (5, 2)


def test_the_lease_is_held_by_one_owner_until_it_expires(registered: Project) -> None:
    record = _deploy(registered)
    repository = registered.store.deployments
    assert repository.take_lease(record.id, "one", 0.5)
    assert repository.take_lease(record.id, "one", 0.5)  # renewed by its holder
    assert not repository.take_lease(record.id, "two", 0.5)
    time.sleep(0.6)
    assert repository.take_lease(record.id, "two", 30)  # expired: taken over
    repository.release_lease(record.id, "one")  # not its holder: nothing happens
    assert not repository.take_lease(record.id, "one", 30)
    repository.release_lease(record.id, "two")
    assert repository.take_lease(record.id, "one", 30)
