"""A logged prediction traced back to its model version, run, dataset version and code."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import ModelNotFound, Project, RecordNotFound
from shipyard.prediction_lineage import PredictionLineage
from shipyard.prediction_log import PredictionRecord
from shipyard.store import LineageGraph
from tests.e2e.serving_fixtures import configure
from tests.helpers import make_table, warm_pool


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """houses:1 trained in a git checkout, with two predictions: one compacted, one spooled."""
    folder = tmp_path_factory.mktemp("traced") / "houses"
    folder.mkdir()
    make_table(300, seed=1).to_csv(folder / "houses.csv", index=False)
    Project.init(folder, data=folder / "houses.csv", target="price").close()
    configure(folder, max_iter=10)
    git("init", "-q", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-qm", "houses", cwd=folder)
    with Project.open(folder) as project:
        project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
        log = project.prediction_log()
        log.append([answer("compacted-1"), answer("other", version=1)])
        log.close()
        log.compact()
        spooled = project.prediction_log()
        spooled.append([answer("spooled-1", variant="canary")])
        yield project
        spooled.close()


def answer(prediction_id: str, *, version: int = 1, variant: str = "primary") -> PredictionRecord:
    return PredictionRecord(
        prediction_id=prediction_id,
        model="houses",
        version=version,
        inputs={"size": 120.0},
        prediction=210.5,
        latency_ms=1.0,
        variant=variant,
    )


@pytest.mark.parametrize("prediction_id", ["compacted-1", "spooled-1"])
def test_a_prediction_leads_to_its_model_run_dataset_and_code(
    trained: Project, prediction_id: str
) -> None:
    lineage = trained.prediction_lineage(prediction_id)

    assert lineage.prediction.prediction_id == prediction_id
    assert lineage.prediction.variant == ("canary" if prediction_id == "spooled-1" else "primary")
    version = trained.registry.resolve("houses:1")
    assert lineage.model_version == version
    assert lineage.run is not None and lineage.run.id == version.run_id == 1
    assert lineage.code_version == git("rev-parse", "HEAD", cwd=trained.root)
    dataset = lineage.dataset_version
    assert dataset is not None and dataset.id == version.dataset_version_id
    assert (dataset.name, dataset.rows) == ("houses", 300)
    graph = lineage.graph
    assert graph.root == version.package.ref
    steps = {execution.step for execution in graph.executions.values()}
    assert {"ExampleGen", "Transform", "Trainer"} <= steps
    # The steps reach down to the examples of that dataset version.
    examples = f"artifact:{dataset.examples_id}"
    (maker,) = graph.parents(examples)
    assert graph.executions[int(maker.partition(":")[2])].step == "ExampleGen"


def test_lineage_takes_a_prediction_reference_or_a_bare_id(trained: Project) -> None:
    by_prefix = trained.lineage("prediction:compacted-1")
    bare = trained.lineage("compacted-1")

    assert isinstance(by_prefix, PredictionLineage) and isinstance(bare, PredictionLineage)
    assert by_prefix.model_version.ref == bare.model_version.ref == "houses:1"
    assert isinstance(trained.lineage("run:1"), LineageGraph)  # other references unchanged


def test_an_unknown_prediction_id_is_named(trained: Project) -> None:
    with pytest.raises(RecordNotFound, match="prediction 'nope' is not in the prediction log"):
        trained.prediction_lineage("nope")
    with pytest.raises(RecordNotFound, match="prediction 'nope' is not in the prediction log"):
        trained.lineage("prediction:nope")
    hexadecimal = "0123456789abcdef" * 2
    unknown = f"no artifact's digest starts with '{hexadecimal}' and no logged prediction"
    with pytest.raises(RecordNotFound, match=unknown):
        trained.lineage(hexadecimal)


def test_a_prediction_of_a_version_the_registry_lacks_says_so(trained: Project) -> None:
    log = trained.prediction_log()
    log.append([answer("orphan", version=9)])
    log.close()

    with pytest.raises(ModelNotFound, match="'orphan' was answered by houses:9"):
        trained.prediction_lineage("orphan")


def test_a_prediction_has_no_downstream_lineage(trained: Project) -> None:
    with pytest.raises(RecordNotFound, match="downstream lineage starts from an artifact"):
        trained.lineage("compacted-1", direction="downstream")
