"""Batch prediction of files: the same answers as the model's, memory bound by the chunk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard import Project
from shipyard.errors import DataError
from shipyard.registry import LoadedModel
from shipyard.serving.batch import predict_file, predict_on_cluster
from tests.e2e.serving_fixtures import trained_project
from tests.helpers import make_table


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    folder = trained_project(tmp_path_factory.mktemp("batch") / "houses", max_iter=5)
    with Project.open(folder) as project:
        return project.registry.load("houses@production")


def _parquet(path: Path, rows: int) -> pd.DataFrame:
    frame = make_table(rows, seed=5).drop(columns=["price"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=2000)
    return frame


def _peak_arrow_bytes(model: LoadedModel, source: Path, target: Path) -> int:
    seen: list[int] = []
    predict_file(
        model,
        source,
        target,
        chunk_rows=2000,
        progress=lambda _done, _total: seen.append(pa.total_allocated_bytes()),
    )
    return max(seen)


def test_reading_a_parquet_file_holds_a_chunk_not_the_file(
    model: LoadedModel, tmp_path: Path
) -> None:
    small_file, large_file = tmp_path / "small.parquet", tmp_path / "large.parquet"
    small = _parquet(small_file, 10_000)
    _parquet(large_file, 100_000)
    grown = large_file.stat().st_size - small_file.stat().st_size
    assert grown > 1_000_000  # what a reader that kept the file's bytes would hold more

    peak_small = _peak_arrow_bytes(model, small_file, tmp_path / "s.parquet")
    peak_large = _peak_arrow_bytes(model, large_file, tmp_path / "l.parquet")
    assert peak_large - peak_small < grown / 4

    written = pd.read_parquet(tmp_path / "s.parquet")
    assert len(written) == 10_000
    expected = model.package.predict_frame(small).values
    assert written["prediction"].tolist() == pytest.approx(expected, rel=1e-12)


def test_a_folder_is_predicted_file_after_file_into_one_output(
    model: LoadedModel, tmp_path: Path
) -> None:
    source = tmp_path / "rows"
    source.mkdir()
    first = _parquet(source / "a.parquet", 3000)
    second = make_table(500, seed=9).drop(columns=["price"])
    second.to_csv(source / "b.csv", index=False)

    assert predict_file(model, source, tmp_path / "out.parquet") == 3500

    written = pd.read_parquet(tmp_path / "out.parquet")
    expected = model.package.predict_frame(pd.concat([first, second], ignore_index=True))
    assert written["prediction"].tolist() == pytest.approx(expected.values, rel=1e-12)
    with pytest.raises(DataError, match="does not exist"):
        predict_file(model, tmp_path / "missing", tmp_path / "none.parquet")
    assert not (tmp_path / "none.parquet").exists()


@pytest.mark.slow  # starts a local Dask cluster
def test_a_folder_predicted_on_a_cluster_gives_the_model_s_answers_in_order(
    model: LoadedModel, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    source = tmp_path / "rows"
    source.mkdir()
    first = _parquet(source / "a.parquet", 5000)
    second = make_table(3000, seed=9).drop(columns=["price"])
    second.to_csv(source / "b.csv", index=False)

    rows = predict_on_cluster(model, source, tmp_path / "out", workers=2, partition_rows=2000)

    assert rows == 8000
    parts = sorted(path.name for path in (tmp_path / "out").iterdir())
    # Three partitions of the Parquet file (row groups of 2000), one of the CSV file.
    assert parts == [f"part-0000{i}.parquet" for i in range(4)]
    written = pq.read_table(tmp_path / "out").to_pandas()
    expected = model.package.predict_frame(pd.concat([first, second], ignore_index=True))
    assert written["prediction"].tolist() == pytest.approx(expected.values, rel=1e-12)
    with pytest.raises(DataError, match="already exists"):
        predict_on_cluster(model, source, tmp_path / "out", workers=1)
    with pytest.raises(DataError, match="does not exist"):
        predict_on_cluster(model, tmp_path / "missing", tmp_path / "other", workers=1)
    assert not (tmp_path / "other").exists()
