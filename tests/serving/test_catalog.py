"""The catalog loads what the aliases point at, swaps versions, and pins what it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import ModelNotFound, Project
from shipyard.serving import catalog as catalog_module
from shipyard.serving.catalog import ModelCatalog
from tests.e2e.serving_fixtures import configure, trained_project


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two versions of model 'houses'."""
    folder = trained_project(tmp_path_factory.mktemp("catalog") / "houses", max_iter=5)
    configure(folder, max_iter=8)
    with Project.open(folder) as project:
        project.run(project.standard_pipeline()).raise_for_failure()
        assert sorted(v.version for v in project.registry.versions("houses")) == [1, 2]
    return folder


def test_the_alias_target_is_loaded_once_and_routed_to(folder: Path) -> None:
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="test")
        catalog = ModelCatalog(project)
        assert not catalog.ready
        (loaded,) = catalog.refresh()
        assert catalog.ready and (loaded.name, loaded.version) == ("houses", 1)
        assert catalog.refresh() == []  # nothing moved, nothing loaded
        assert catalog.route(None) is catalog.route("houses") is loaded
        with pytest.raises(ModelNotFound, match="model 'nope' is not served here"):
            catalog.route("nope")
        assert catalog.describe() == [{"name": "houses", "version": 1, "alias": "production"}]
        metadata = loaded.metadata()
        assert metadata["versions"] == ["1"]
        inputs = {i["name"]: i["parameters"]["required"] for i in metadata["inputs"]}
        assert inputs == dict.fromkeys(["size", "rooms", "age", "area", "heating"], True)
        assert loaded.required == frozenset(inputs)


def test_served_versions_stay_in_a_full_cache_and_leave_when_replaced(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_REGISTRY_CACHE_VERSIONS", "1")
    with Project.open(folder) as project:
        registry = project.registry
        first, second = (registry.resolve(f"houses:{n}").package.digest for n in (1, 2))
        registry.promote("houses", 1, reason="test")
        catalog = ModelCatalog(project)
        catalog.refresh()
        registry.load("houses:2")  # loaded aside: the cache holds one, and 1 is served
        assert registry.loaded.digests == [first]

        registry.promote("houses", 2, reason="test")
        (loaded,) = catalog.refresh()
        assert catalog.route("houses") is loaded and loaded.version == 2
        assert registry.loaded.digests == [second]  # 1 is no longer served: it left


def test_a_deployment_loads_its_candidate_and_a_promotion_loads_nothing(folder: Path) -> None:
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="test")
        deployments = project.deployments
        catalog = ModelCatalog(project)
        (primary,) = catalog.refresh()
        record = deployments.deploy("houses", 2, strategy="canary", percent=100, force=True,
                                    reason="test")  # fmt: skip
        try:
            (candidate,) = catalog.refresh()  # only the candidate is loaded
            assert (candidate.version, candidate.alias) == (2, "candidate")
            choice = catalog.choose("houses", [{}])
            assert (choice.served, choice.arm, choice.deployment) == (
                candidate,
                "candidate",
                record.id,
            )
            assert choice.shadow is primary
            assert catalog.route("houses") is primary  # the primary describes the model
            assert catalog.describe()[0]["deployment"]["candidate_loaded"] is True
            routing = catalog.routing("houses")
            assert catalog.refresh() == [] and catalog.routing("houses") is routing  # unchanged

            deployments.set_percent("houses", 0)
            assert catalog.refresh() == []
            assert catalog.choose("houses", [{}]).arm == "primary"
            deployments.promote("houses")
            assert catalog.refresh() == []  # the candidate was held: nothing loaded
            promoted = catalog.route("houses")
            assert (promoted.version, promoted.alias) == (2, "production")
            assert promoted.package is candidate.package
            assert catalog.choose("houses", [{}]).deployment is None
        finally:
            if deployments.current("houses") is not None:
                deployments.rollback("houses")
            project.registry.promote("houses", 1, reason="test")


def test_a_candidate_that_fails_to_load_leaves_the_primary_serving(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with Project.open(folder) as project:
        project.registry.promote("houses", 1, reason="test")
        deployments = project.deployments
        deployments.deploy("houses", 2, strategy="canary", percent=100, force=True,
                           reason="test")  # fmt: skip
        record = project.registry.resolve("houses:2")
        tree = project.artifacts.materialize(record.package.digest, "dir")
        damaged = next(path for path in sorted(tree.rglob("*")) if path.is_file())
        original = damaged.read_bytes()
        mode = damaged.stat().st_mode
        try:
            damaged.chmod(0o644)
            damaged.write_bytes(original + b"damage")
            with Project.open(folder) as server_side:  # a server's own cache: nothing loaded
                catalog = ModelCatalog(server_side)
                (primary,) = catalog.refresh()
                assert primary.version == 1
                assert "could not load candidate houses:2" in caplog.text
                assert catalog.choose("houses", [{}]).served is primary
                assert catalog.describe()[0]["deployment"]["candidate_loaded"] is False
                caplog.clear()
                assert catalog.refresh() == []  # not tried again at once
                assert caplog.text == ""

                damaged.write_bytes(original)
                monkeypatch.setattr(catalog_module, "CANDIDATE_RETRY_SECONDS", 0.0)
                (candidate,) = catalog.refresh()
                assert catalog.choose("houses", [{}]).served is candidate
        finally:
            damaged.write_bytes(original)
            damaged.chmod(mode)
            deployments.rollback("houses")
