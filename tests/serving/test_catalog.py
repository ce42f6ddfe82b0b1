"""The catalog loads what the aliases point at, swaps versions, and pins what it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import ModelNotFound, Project
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
