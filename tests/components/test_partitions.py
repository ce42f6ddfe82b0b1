"""Data steps a partition at a time: ExampleGen, StatisticsGen and Transform on a table
cut into partitions give what they give on the whole table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from shipyard import Project
from shipyard.components import ExampleGen, SchemaGen, StatisticsGen, Transform, read_split
from shipyard.components.ingestion import split_files
from shipyard.components.payloads import StatisticsPayload
from shipyard.config import CONFIG_FILE, load_config
from shipyard.data import FittedTransform, compute_statistics, learn_transform, split_frame
from shipyard.modeling.package import ModelPackage
from shipyard.pipeline import Pipeline, RunResult
from tests.helpers import MakeStandardProject, make_table, warm_pool


def houses(rows: int, *, seed: int = 0) -> pd.DataFrame:
    return make_table(rows, seed=seed).assign(id=np.arange(rows))


def write_parquet(frame: pd.DataFrame, path: Path, *, row_group_size: int) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def data_steps(source: Path, *, partition_rows: int, key: str | None = None) -> Pipeline:
    examples = ExampleGen(source=str(source), name="houses", key=key, partition_rows=partition_rows)
    statistics = StatisticsGen(examples=examples.outputs.examples, partition_rows=partition_rows)
    schema = SchemaGen(statistics=statistics.outputs.statistics)
    transform = Transform(
        examples=examples.outputs.examples,
        schema=schema.outputs.schema,
        target="price",
        drop=["id"],
        partition_rows=partition_rows,
    )
    return Pipeline("data", [examples, statistics, schema, transform])


def ran(project: Project, pipeline: Pipeline) -> RunResult:
    result = project.run(pipeline)
    result.raise_for_failure()
    return result


def folder(project: Project, result: RunResult, step: str, port: str) -> Path:
    output = result.output(step, port)
    return project.artifacts.materialize(output.digest, output.kind)


def test_a_partitioned_source_is_split_partition_by_partition_keeping_every_row(
    project: Project, tmp_path: Path
) -> None:
    table = houses(1000)
    source = write_parquet(table, tmp_path / "houses.parquet", row_group_size=100)

    # Partitions never cut a row group: 250 rows a partition means two groups of 100.
    result = ran(project, data_steps(source, partition_rows=250))

    examples = folder(project, result, "ExampleGen", "examples")
    assert len(split_files(examples, "train")) == len(split_files(examples, "eval")) == 5
    train, evaluation = read_split(examples, "train"), read_split(examples, "eval")
    # Each partition of 200 rows sends round(0.2 * 200) of them to evaluation.
    assert len(evaluation) == 5 * 40 and len(train) == 800
    assert sorted([*train["id"], *evaluation["id"]]) == list(range(1000))
    # Rows keep the source's order within each split.
    assert list(train["id"]) == sorted(train["id"])
    pd.testing.assert_frame_equal(
        train.drop(columns="id"),
        table.set_index("id").loc[train["id"]].reset_index(drop=True),
    )
    properties = result.output("ExampleGen", "examples").properties
    assert (properties["rows"], properties["train_rows"], properties["eval_rows"]) == (
        1000,
        800,
        200,
    )


def test_a_source_of_one_partition_splits_as_split_frame_does(
    project: Project, tmp_path: Path
) -> None:
    table = houses(300)
    source = tmp_path / "houses.csv"
    table.to_csv(source, index=False)

    result = ran(project, data_steps(source, partition_rows=1000))

    examples = folder(project, result, "ExampleGen", "examples")
    train, evaluation = split_frame(pd.read_csv(source), eval_fraction=0.2, seed=42)
    pd.testing.assert_frame_equal(read_split(examples, "train"), train)
    pd.testing.assert_frame_equal(read_split(examples, "eval"), evaluation)


def test_a_keyed_split_sends_a_row_to_the_same_split_whatever_the_partitions(
    project: Project, tmp_path: Path
) -> None:
    table = houses(600)
    source = write_parquet(table, tmp_path / "houses.parquet", row_group_size=50)

    result = ran(project, data_steps(source, partition_rows=100, key="id"))

    examples = folder(project, result, "ExampleGen", "examples")
    _, whole = split_frame(table, eval_fraction=0.2, seed=42, key="id")
    assert sorted(read_split(examples, "eval")["id"]) == sorted(whole["id"])


def test_statistics_and_the_transform_of_partitions_match_the_whole_split(
    project: Project, tmp_path: Path
) -> None:
    source = write_parquet(houses(2000), tmp_path / "houses.parquet", row_group_size=100)

    result = ran(project, data_steps(source, partition_rows=300))

    examples = folder(project, result, "ExampleGen", "examples")
    train = read_split(examples, "train")
    merged = StatisticsPayload.read(folder(project, result, "StatisticsGen", "statistics")).train
    whole = compute_statistics(train)
    assert merged.num_rows == whole.num_rows == len(train)
    for column in whole:
        mine = merged[column.name]
        assert (mine.type, mine.count, mine.missing) == (column.type, column.count, column.missing)
        # Distinct counts come from merged HyperLogLog sketches (about 1.6% error).
        assert mine.distinct_count == pytest.approx(train[column.name].nunique(), rel=0.05)
        if column.is_numeric:
            assert (mine.min, mine.max) == (column.min, column.max)
            assert mine.mean == pytest.approx(column.mean, rel=1e-12)
            assert mine.std == pytest.approx(column.std, rel=1e-9)
        else:
            assert mine.categorical is not None and column.categorical is not None
            assert mine.categorical.value_counts() == column.categorical.value_counts()

    transform_file = folder(project, result, "Transform", "transform")
    partitioned = FittedTransform.from_dict(json.loads(transform_file.read_text()))
    exact = learn_transform(train, partitioned.spec)
    assert partitioned.input_columns == exact.input_columns
    assert partitioned.vocabularies == exact.vocabularies
    for column in exact.numeric_columns:
        assert partitioned.means[column] == pytest.approx(exact.means[column], rel=1e-9)
        assert partitioned.scales[column] == pytest.approx(exact.scales[column], rel=1e-9)
        # A median from a quantile sketch: the exact median's rank, within 0.5%.
        observed = train[column].dropna().to_numpy()
        rank = np.mean(observed < partitioned.medians[column])
        assert math.isclose(rank, np.mean(observed < exact.medians[column]), abs_tol=0.005)


def test_parts_whose_types_differ_are_read_in_the_type_both_fit(
    project: Project, tmp_path: Path
) -> None:
    source = tmp_path / "houses"
    source.mkdir()
    table = houses(400)
    whole_rooms = table.iloc[:200]
    some_missing = table.iloc[200:].assign(rooms=lambda f: f["rooms"].where(f.index % 7 > 0))
    write_parquet(whole_rooms, source / "a.parquet", row_group_size=200)
    write_parquet(some_missing, source / "b.parquet", row_group_size=200)
    assert pq.read_schema(source / "a.parquet").field("rooms").type == pa.int64()

    result = ran(project, data_steps(source, partition_rows=200))

    train = read_split(folder(project, result, "ExampleGen", "examples"), "train")
    assert train["rooms"].dtype == np.float64
    assert train["rooms"].isna().sum() == sum(1 for i in train["id"] if i >= 200 and i % 7 == 0)


def test_a_source_whose_files_disagree_on_columns_is_refused_naming_the_file(
    project: Project, tmp_path: Path
) -> None:
    source = tmp_path / "houses"
    source.mkdir()
    houses(100).to_csv(source / "a.csv", index=False)
    houses(100).drop(columns="age").to_csv(source / "b.csv", index=False)

    result = project.run(data_steps(source, partition_rows=50))

    assert result.names("failed") == ["ExampleGen"]
    error = result.steps["ExampleGen"].error or ""
    assert f"{source / 'b.csv'} does not have the columns of {source / 'a.csv'}" in error
    assert "missing ['age']" in error
    assert project.dataset_versions("houses") == []


@pytest.mark.slow
def test_the_standard_pipeline_on_dask_partitions_gives_the_local_models_and_metrics(
    tmp_path: Path,
) -> None:
    """Partitions of a CSV folder, each a task of a one-worker cluster: the step that
    waits for them must not hold the only worker."""
    pytest.importorskip("distributed")
    source = tmp_path / "houses"
    source.mkdir()
    table = make_table(900, seed=3)
    for part in range(3):
        table.iloc[part * 300 : (part + 1) * 300].to_csv(source / f"{part}.csv", index=False)
    results, predictions, statistics = {}, {}, {}
    for executor in ("local", "dask"):
        root = tmp_path / executor
        root.mkdir()
        Project.init(root, data=source, target="price").close()
        settings = yaml.safe_load((root / CONFIG_FILE).read_text())
        settings["data"]["partition_rows"] = 100
        settings["model"]["params"] = {"max_iter": 30}
        settings["infra"]["requests"] = 20
        settings["infra"]["max_p99_ms"] = 2000
        settings["pipeline"] = {"executor": executor, "workers": 1}
        (root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
        project = Project.open(root)
        assert project.config == load_config(root)
        result = project.run(project.standard_pipeline())
        result.raise_for_failure()
        results[executor] = result
        model = folder(project, result, "Trainer", "model")
        predictions[executor] = ModelPackage.load(model).predict_frame(table).values
        train = StatisticsPayload.read(folder(project, result, "StatisticsGen", "statistics")).train
        statistics[executor] = [(c.name, c.count, c.missing, c.mean) for c in train]
        project.close()

    local, dask = results["local"], results["dask"]
    for step, port in (
        ("ExampleGen", "examples"),
        ("Transform", "transform"),
        ("Evaluator", "evaluation"),
    ):
        assert dask.output(step, port).digest == local.output(step, port).digest, step
    # Quantile sketches draw random bits as they compact: compared by counts and moments.
    assert statistics["dask"] == statistics["local"]
    # A model file records when it was written: the models are compared by what they say.
    np.testing.assert_array_equal(predictions["dask"], predictions["local"])
    assert dask.output("ExampleGen", "examples").properties["train_rows"] == 720


def test_a_split_read_with_max_rows_is_a_uniform_sample_in_the_split_s_order(
    project: Project, tmp_path: Path
) -> None:
    source = write_parquet(houses(1000), tmp_path / "houses.parquet", row_group_size=100)
    result = ran(project, data_steps(source, partition_rows=200))
    examples = folder(project, result, "ExampleGen", "examples")
    whole = read_split(examples, "train")

    sample = read_split(examples, "train", max_rows=300, seed=1)

    assert len(sample) == 300 and sample["id"].is_unique
    assert set(sample["id"]) <= set(whole["id"])
    assert list(sample["id"]) == sorted(sample["id"])  # the split's order, across parts
    # Drawn from every part of the split, not from its first rows.
    assert sample["id"].max() > 900 and sample["id"].min() < 100
    pd.testing.assert_frame_equal(read_split(examples, "train", max_rows=300, seed=1), sample)
    pd.testing.assert_frame_equal(read_split(examples, "train", max_rows=5000), whole)


def test_the_trainer_fits_on_a_sample_of_a_split_larger_than_max_rows(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project(rows=600)
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["model"]["max_rows"] = 300
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.config = load_config(project.root)

    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()

    assert result.output("Trainer", "model").properties["train_rows"] == 300
    metrics = project.run_values(result.run.id).metrics
    assert (metrics["train_sampled_from"], metrics["train_rows"]) == (480, 300)
    assert "eval_sampled_from" not in metrics  # 120 rows: every one is read
