"""The registry's records and rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from shipyard import ModelNotFound, Project
from shipyard.pipeline import Pipeline
from shipyard.registry import parse_model_ref
from shipyard.store import ArtifactRecord
from tests.pipeline import components as c


def a_package(project: Project, seed: int) -> ArtifactRecord:
    """Any stored artifact will do as a package for the registry's bookkeeping."""
    return project.run(Pipeline("p", [c.generate(start=seed)])).output("generate", "numbers")


def test_versions_are_numbered_and_aliases_move_with_history(project: Project) -> None:
    registry = project.registry
    first = registry.register("m", package_id=a_package(project, 1).id, blessed=True)
    second = registry.register("m", package_id=a_package(project, 2).id, metrics={"rmse": 2.0})
    assert (first.version, second.version) == (1, 2)

    registry.promote("m", 1, actor="ann", reason="first")
    registry.promote("m", 2, actor="bob", reason="better")
    assert registry.promote("m", 2, actor="bob") is None  # no move, no history entry
    registry.promote("m", 1, alias="staging", actor="cy")

    assert registry.resolve("m@production").version == 2
    assert registry.resolve("m").version == 2
    assert registry.resolve("m@staging").version == 1
    assert registry.resolve("m:1").aliases == ["staging"]
    history = [
        (e.alias, e.from_version, e.to_version, e.actor, e.reason) for e in registry.history("m")
    ]
    assert history == [
        ("production", None, 1, "ann", "first"),
        ("production", 1, 2, "bob", "better"),
        ("staging", None, 1, "cy", ""),
    ]
    (model,) = registry.models()
    assert (model.name, model.latest_version, model.aliases) == (
        "m",
        2,
        {"production": 2, "staging": 1},
    )


def test_tags_are_kept_per_version(project: Project) -> None:
    registry = project.registry
    registry.register("m", package_id=a_package(project, 1).id)
    registry.tag("m", 1, {"owner": "data-team", "reviewed": True})
    registry.tag("m", 1, {"reviewed": False})
    assert registry.resolve("m:1").tags == {"owner": "data-team", "reviewed": False}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope@production", "no model named 'nope'; registered models: m"),
        ("m:7", "model 'm' has no version 7"),
        ("m@canary", "model 'm' has no alias 'canary'; its aliases: none"),
        ("m@@x", "'m@@x' is not a model reference"),
    ],
)
def test_unknown_references_are_clear_errors(project: Project, ref: str, message: str) -> None:
    project.registry.register("m", package_id=a_package(project, 1).id)
    with pytest.raises(ModelNotFound, match=message.replace("(", r"\(")):
        project.registry.resolve(ref)


def test_promoting_a_missing_version_changes_nothing(project: Project) -> None:
    project.registry.register("m", package_id=a_package(project, 1).id)
    project.registry.promote("m", 1)
    with pytest.raises(ModelNotFound, match="has no version 3"):
        project.registry.promote("m", 3)
    assert project.registry.resolve("m@production").version == 1
    assert len(project.registry.history("m")) == 1


def test_parse_model_ref() -> None:
    assert str(parse_model_ref("ames")) == "ames@production"
    assert str(parse_model_ref("ames:12")) == "ames:12"
    assert parse_model_ref("a.b-c@blue_green").alias == "blue_green"
