"""Every standard component passes the conformance suite.

One standard run provides the inputs; each component is then checked on its own, with
its inputs bound to that run's artifacts, in the same project.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from shipyard import Project, RunResult
from shipyard.config import CONFIG_FILE
from shipyard.pipeline import OutputRef
from shipyard.testing import CHECKS, check_component
from tests.helpers import make_table, warm_pool

STANDARD = [
    "ExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "Tuner",
    "Trainer",
    "Evaluator",
    "InfraValidator",
    "Pusher",
]


@pytest.fixture(scope="module")
def standard_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, RunResult]]:
    folder = tmp_path_factory.mktemp("conformance")
    make_table(300).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["model"]["params"] = {"max_iter": 10}
    settings["infra"]["requests"] = 10
    settings["infra"]["max_p99_ms"] = 2000
    settings["tuner"] = {"trials": 2, "folds": 2, "space": {"max_depth": {"int": [2, 4]}}}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project = Project.open(folder)
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()
    yield project, result
    project.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", STANDARD)
def test_standard_component_conforms(name: str, standard_run: tuple[Project, RunResult]) -> None:
    project, result = standard_run
    step = project.standard_pipeline().step(name)
    step.bind(
        **{
            port: result.output(ref.step.name, ref.port)
            for port, ref in step.inputs.items()
            if isinstance(ref, OutputRef)
        }
    )

    report = check_component(step, project=project)

    assert report.passed == list(CHECKS)
    assert set(report.outputs) == set(step.component.outputs)
