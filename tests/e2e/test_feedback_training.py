"""Labelled predictions join the next training run as a dataset version of their own.

The runs go through the Python API that ``shipyard run`` calls, in this process (its
summary is printed as the command prints it); lineage and datasets are read with the
installed command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from shipyard import DataError, Project
from shipyard.cli.summary import print_summary
from shipyard.components import summarize
from shipyard.config import CONFIG_FILE
from shipyard.pipeline import RunResult
from shipyard.prediction_log import PredictionLog, PredictionRecord
from shipyard.store.lineage import LineageGraph
from tests.e2e.serving_fixtures import trained_project
from tests.helpers import make_table, run_cli, warm_pool

SOURCES = {"q0": "api", "q1": "agreed", "q2": "agreed", "q3": "adjudicated", "q4": "single"}


def include_feedback(folder: Path, include: bool) -> None:
    settings = yaml.safe_load((folder / CONFIG_FILE).read_text())
    settings["data"]["include_feedback"] = include
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(settings))


def run(folder: Path) -> RunResult:
    with Project.open(folder) as project:
        result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()
    return result


def log_predictions(log: PredictionLog, count: int, **fields: Any) -> list[str]:
    """``count`` answers of houses:1 on fresh rows (ids q0, q1, ... after ``fields``)."""
    table = make_table(count, seed=7).drop(columns="price")
    prefix = fields.pop("prefix", "q")
    records = [
        PredictionRecord(
            prediction_id=f"{prefix}{n}",
            model="houses",
            version=1,
            inputs={k: v for k, v in row.items() if v == v and v is not None},
            prediction=100_000.0,
            latency_ms=1.0,
            **fields,
        )
        for n, row in enumerate(table.to_dict("records"))
    ]
    log.append(records)
    return [record.prediction_id for record in records]


def examples_properties(result: RunResult) -> dict[str, Any]:
    return dict(result.output("ExampleGen", "examples").properties)


def test_labelled_predictions_join_the_next_run_and_its_lineage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = trained_project(tmp_path / "houses", max_iter=10)
    first = run(folder)  # the first run again: every step cached
    assert first.names("succeeded") == []
    with Project.open(folder) as project:
        log = project.prediction_log()
        ids = log_predictions(log, 7)
        log_predictions(log, 2, prefix="s", variant="shadow", shadow_of="q0")
        labelled = ids[:5]
        labels = {pid: 150_000.0 + n for n, pid in enumerate(labelled)}
        for source in sorted(set(SOURCES.values())):  # as /feedback and review labels are
            chosen = {pid: label for pid, label in labels.items() if SOURCES[pid] == source}
            project.store.predictions.save_feedback(chosen, source=source)
        log.record_feedback_batch({"s0": 1.0})  # a shadow's label is not training data
        log.close()

    unchanged = run(folder)  # include_feedback is off: labels change nothing
    assert unchanged.names("succeeded") == []

    include_feedback(folder, True)
    second = run(folder)

    assert {"ExampleGen", "Trainer"} <= set(second.names("succeeded"))
    before, after = examples_properties(first), examples_properties(second)
    assert after["train_rows"] == before["train_rows"] + 5
    assert after["eval_rows"] == before["eval_rows"]
    assert after["feedback_rows"] == 5
    assert after["feedback_sources"] == {"adjudicated": 1, "agreed": 2, "api": 1, "single": 1}
    with Project.open(folder) as project:
        print_summary(summarize(second, registry=project.registry))  # what `shipyard run` shows
        assert (
            "feedback 5 labelled predictions joined the training split (adjudicated 1, "
            "agreed 2, api 1, single 1) as houses-feedback version sha256:"
        ) in " ".join(capsys.readouterr().out.split())
        feedback = project.dataset_versions("houses-feedback")
        assert len(feedback) == 1 and feedback[0].rows == 5
        assert feedback[0].source == "prediction log"
        assert feedback[0].run_id == second.run.id
        assert feedback[0].digest == after["feedback_digest"]
        examples = project.store.get_artifact(feedback[0].examples_id)
        snapshot = project.artifacts.materialize(examples.digest, "dir") / "feedback.parquet"
        assert sorted(pq.read_table(snapshot)["prediction_id"].to_pylist()) == labelled
        version = project.registry.resolve("houses:2")
        assert version.run_id == second.run.id
        graph = project.lineage("houses:2")
        assert isinstance(graph, LineageGraph)
        held = {v.name for found in graph.datasets.values() for v in found}
        assert held == {"houses", "houses-feedback"}
        source = project.dataset_versions("houses")
        assert len(source) == 1 and version.dataset_version_id == source[0].id

    # No new labels: the cache answers (the Evaluator and the Pusher run again only when
    # the new version became production, their baseline).
    again = run(folder)
    assert {"ExampleGen", "Trainer"} <= set(again.names("cached"))
    assert again.output("ExampleGen", "examples").id == second.output("ExampleGen", "examples").id

    lineage = run_cli("lineage", "houses:2", cwd=folder)
    assert lineage.returncode == 0, lineage.stderr
    (line,) = [ln for ln in lineage.stdout.splitlines() if "houses-feedback" in ln]
    assert f"dataset version {feedback[0].id}: houses-feedback sha256:" in line
    assert "5 labelled predictions (adjudicated 1, agreed 2, api 1, single 1)" in line
    listed = run_cli("datasets", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    (row,) = [ln for ln in listed.stdout.splitlines() if "houses-feedback" in ln]
    assert "prediction log" in row and " 5 " in row

    include_feedback(folder, False)
    back = run(folder)  # the first run's examples and model again, from the cache
    assert {"ExampleGen", "Trainer"} <= set(back.names("cached"))
    assert back.output("Trainer", "model").digest == first.output("Trainer", "model").digest


def test_a_label_of_the_wrong_type_stops_the_run_before_anything_is_written(
    tmp_path: Path,
) -> None:
    folder = trained_project(tmp_path / "houses", max_iter=10)
    include_feedback(folder, True)
    with Project.open(folder) as project:
        log = project.prediction_log()
        ids = log_predictions(log, 3)
        log.record_feedback_batch({ids[0]: 1.0, ids[1]: "cheap", ids[2]: 3.0})
        log.close()
        runs = len(project.runs())
        stored = Path(project.artifacts.url)
        blobs = sorted(stored.rglob("*"))

        with pytest.raises(DataError, match=r"label of 1 prediction\(s\) cannot be cast") as err:
            project.standard_pipeline()

        assert "q1 ('cheap')" in str(err.value) and "'price'" in str(err.value)
        assert len(project.runs()) == runs
        assert project.dataset_versions("houses-feedback") == []
        assert sorted(stored.rglob("*")) == blobs  # the snapshot was never stored
