"""ExampleGen with labelled predictions: training split only, a dataset version of their own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import Project, StepFailed
from shipyard.components import ExampleGen, read_split
from shipyard.data import LABEL_SOURCE, PREDICTION_ID
from shipyard.pipeline import Pipeline, RunResult
from tests.helpers import make_table


def ingest(project: Project, source: Path, feedback: Path | None = None) -> RunResult:
    step = ExampleGen(
        source=str(source), name="houses", feedback=None if feedback is None else str(feedback)
    )
    return project.run(Pipeline("ingest", [step]))


def write(frame: pd.DataFrame, path: Path) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def examples_folder(project: Project, result: RunResult) -> Path:
    return project.artifacts.materialize(result.output("ExampleGen", "examples").digest, "dir")


def test_feedback_rows_join_the_training_split_only(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "houses.csv"
    make_table(100).to_csv(source, index=False)
    labelled = make_table(3, seed=5).assign(
        **{PREDICTION_ID: ["a", "b", "c"], LABEL_SOURCE: ["api", "agreed", "api"]}
    )
    plain = ingest(project, source)
    fed = ingest(project, source, write(labelled, tmp_path / "feedback.parquet"))
    plain.raise_for_failure()
    fed.raise_for_failure()

    before, after = examples_folder(project, plain), examples_folder(project, fed)
    pd.testing.assert_frame_equal(read_split(after, "eval"), read_split(before, "eval"))
    source_train = read_split(before, "train")
    expected = pd.concat([source_train, labelled[source_train.columns]], ignore_index=True)
    pd.testing.assert_frame_equal(read_split(after, "train"), expected)
    properties = fed.output("ExampleGen", "examples").properties
    assert properties["feedback_rows"] == 3
    assert properties["feedback_sources"] == {"agreed": 1, "api": 2}
    kept = pq.read_table(after / "feedback.parquet").to_pandas()
    assert list(kept[PREDICTION_ID]) == ["a", "b", "c"]
    (version,) = project.dataset_versions("houses-feedback")
    assert (version.rows, version.source) == (3, "prediction log")
    assert version.digest == properties["feedback_digest"]


def test_a_feedback_file_without_the_sources_columns_fails_the_step(
    project: Project, tmp_path: Path
) -> None:
    source = tmp_path / "houses.csv"
    make_table(100).to_csv(source, index=False)
    broken = make_table(2).drop(columns="rooms").assign(**{LABEL_SOURCE: "api"})

    result = ingest(project, source, write(broken, tmp_path / "feedback.parquet"))

    assert result.names("failed") == ["ExampleGen"]
    assert "lacks columns ['rooms']" in (result.steps["ExampleGen"].error or "")
    assert project.dataset_versions() == []
    with pytest.raises(StepFailed, match="lacks columns"):
        result.raise_for_failure()
