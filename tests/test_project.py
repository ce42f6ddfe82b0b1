"""The ``Project`` API's own methods (running and lineage have tests of their own)."""

from __future__ import annotations

import pytest

from shipyard import Project, RecordNotFound
from shipyard.pipeline import Pipeline
from tests.pipeline import components as c


def an_artifact(project: Project, seed: int) -> int:
    return project.run(Pipeline("p", [c.generate(start=seed)])).output("generate", "numbers").id


def test_dataset_versions_are_listed_newest_first_and_found_by_id(project: Project) -> None:
    datasets = project.store.datasets
    first = datasets.register(
        "houses",
        digest="a" * 64,
        source="a.csv",
        rows=3,
        columns=2,
        examples_id=an_artifact(project, 1),
        run_id=None,
    )
    other = datasets.register(
        "churn",
        digest="b" * 64,
        source="b.csv",
        rows=5,
        columns=4,
        examples_id=an_artifact(project, 2),
        run_id=None,
    )
    second = datasets.register(
        "houses",
        digest="c" * 64,
        source="a.csv",
        rows=4,
        columns=2,
        examples_id=an_artifact(project, 3),
        run_id=None,
    )

    assert project.dataset_versions() == [second, other, first]
    assert project.dataset_versions("houses") == [second, first]
    assert project.dataset_version(other.id) == other
    with pytest.raises(RecordNotFound, match="dataset version 99 does not exist"):
        project.dataset_version(99)
