"""Steps as tasks of a Dask cluster (``pipeline: {executor: dask}``): the same runs, the
same caching, and a worker that dies mid-step replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shipyard import Pipeline, Project
from shipyard.config import CONFIG_FILE, load_config
from shipyard.errors import ConfigError
from shipyard.pipeline.dask_executor import DaskExecutor
from tests.helpers import MakeProject
from tests.pipeline import components as c
from tests.pipeline.test_runner import three_steps

pytestmark = pytest.mark.slow  # each run starts a local Dask cluster (a few seconds)


def on_dask(project: Project) -> Project:
    """``project`` set to run on Dask (the same object: the fixture closes it)."""
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["pipeline"]["executor"] = "dask"
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.config = load_config(project.root)
    return project


def test_a_pipeline_on_dask_gives_what_the_local_pool_gives_and_is_cached_alike(
    make_project: MakeProject,
) -> None:
    local = make_project("local").run(three_steps(count=5, factor=3))
    dask = on_dask(make_project("dask"))

    first = dask.run(three_steps(count=5, factor=3))
    again = dask.run(three_steps(count=5, factor=3))

    assert first.names("succeeded") == ["generate", "scale", "Summarise"]
    for step, port in (("generate", "numbers"), ("scale", "scaled"), ("Summarise", "summary")):
        assert first.output(step, port).digest == local.output(step, port).digest
    summary = dask.artifacts.read_bytes(first.output("Summarise", "summary").digest)
    assert json.loads(summary) == {"total": 30.0, "count": 5}
    assert again.names("cached") == ["generate", "scale", "Summarise"]


def test_a_worker_that_dies_mid_step_is_replaced_and_the_step_runs_again(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = on_dask(make_project())
    marker = tmp_path / "died"

    result = project.run(Pipeline("dying", [c.dies_once(marker=str(marker))]))

    assert result.succeeded
    died, survived = project.artifacts.read_bytes(
        result.output("dies_once", "survived").digest
    ).split()
    assert died == marker.read_text().encode() and died != survived
    assert [s.status for s in project.run_steps(result.run.id)] == ["succeeded"]


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    executor = DaskExecutor(scheduler="tcp://127.0.0.1:9", connect_seconds=2)
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        executor.start()
