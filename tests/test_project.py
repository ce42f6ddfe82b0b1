"""The ``Project`` API's own methods (running and lineage have tests of their own)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard import ConfigError, Project, RecordNotFound
from shipyard.pipeline import LocalExecutor, Pipeline, RunResult
from tests.helpers import process_ended
from tests.pipeline import components as c


def an_artifact(project: Project, seed: int) -> int:
    return project.run(Pipeline("p", [c.generate(start=seed)])).output("generate", "numbers").id


def test_a_callers_executor_runs_the_steps_and_is_left_running(project: Project) -> None:
    def worker(result: RunResult) -> int:
        digest = result.output("uncached", "numbers").digest
        pid: int = json.loads(project.artifacts.read_bytes(digest))[1]
        return pid

    with LocalExecutor(1) as pool:
        first = project.run(Pipeline("p", [c.uncached()]), executor=pool)
        assert not process_ended(worker(first))  # the run left the caller's pool running
        second = project.run(Pipeline("p", [c.uncached()]), executor=pool)
        assert worker(second) == worker(first)
    assert process_ended(worker(first))
    own = project.run(Pipeline("p", [c.uncached()]))  # a pool of its own, ended with it
    assert worker(own) != worker(first) and process_ended(worker(own))


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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": "price"}, "target and task describe the data; give data too"),
        ({"task": "regression"}, "target and task describe the data; give data too"),
        ({"data": "houses.csv"}, "data needs a target: the column the model predicts"),
    ],
)
def test_init_names_its_parameters_not_command_line_flags(
    tmp_path: Path, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Project.init(tmp_path / "p", **options)  # type: ignore[arg-type]

    assert str(raised.value) == message
    assert "--" not in str(raised.value)
    assert not (tmp_path / "p").exists()
