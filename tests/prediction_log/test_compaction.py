"""Compaction: closed spool files become segments, and a crash neither loses nor duplicates."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from shipyard import Project
from shipyard.config import CONFIG_FILE
from shipyard.prediction_log import PredictionLog
from tests.prediction_log.helpers import T0, record, segment_rows, spool_files


def test_compaction_moves_closed_spool_files_into_parquet_segments(log: PredictionLog) -> None:
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(10)])
    before = log.read()

    assert log.compact().files == 0  # the writer still holds its file
    assert len(spool_files(log)) == 1

    assert log.rotate()
    result = log.compact()
    assert (result.files, result.predictions) == (1, 10)
    assert sorted(segment.model for segment in result.segments) == ["ames", "churn"]
    assert spool_files(log) == []
    pd.testing.assert_frame_equal(log.read(), before)

    churn = log.records.segments(model="churn")[0]
    assert (churn.rows, churn.min_time, churn.max_time) == (
        5,
        T0,
        T0 + timedelta(minutes=8),
    )


def test_a_line_cut_off_mid_write_is_skipped_and_the_rest_kept(log: PredictionLog) -> None:
    log.append([record(n) for n in range(5)])
    (path,) = spool_files(log)
    log.rotate()
    with path.open("ab") as spool:
        spool.write(b'{"id":"p99999","ts":"2024-05-01T12:')  # the writer died here

    assert list(log.read()["prediction_id"]) == [f"p{n:05d}" for n in range(4, -1, -1)]
    assert log.find(["p00004", "p99999"]) == {"p00004"}
    assert log.compact().predictions == 5
    assert spool_files(log) == []
    assert len(log.read()) == 5


def test_a_damaged_line_does_not_stop_compaction(log: PredictionLog) -> None:
    log.append([record(1)])
    (path,) = spool_files(log)
    log.rotate()
    with path.open("ab") as spool:
        spool.write(b"not a prediction\n" + b'{"id": "p2", "ts": "garbage"}\n')
    log.append([record(3)])
    log.rotate()
    assert log.compact().predictions == 2
    assert sorted(log.read()["prediction_id"]) == ["p00001", "p00003"]


@pytest.mark.parametrize("crash", ["before registering", "before deleting the spool file"])
def test_compaction_interrupted_by_a_crash_neither_loses_nor_duplicates(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    log.append([record(n, model="ames" if n % 2 else "churn") for n in range(50)])
    log.rotate()

    class Crash(Exception):
        pass

    def crash_now(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash

    with monkeypatch.context() as patch:
        if crash == "before registering":
            patch.setattr(log.records, "register_segments", crash_now)
        else:
            patch.setattr(Path, "unlink", crash_now)
        with pytest.raises(Crash):
            log.compact()
    assert len(spool_files(log)) == 1
    assert len(log.read()) == 50  # a reader meanwhile sees each prediction once

    log.compact()
    assert spool_files(log) == []
    assert segment_rows(log) == 50
    assert len(log.records.segments()) == 2
    frame = log.read()
    assert len(frame) == 50 and frame["prediction_id"].is_unique


def test_segments_compacted_onto_s3_are_read_back_by_another_process(
    s3_url: str, tmp_path: Path
) -> None:
    project = Project.init(tmp_path / "proj")
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    settings["store"]["artifacts"] = s3_url
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.close()
    with Project.open(tmp_path / "proj") as writer:
        log = writer.prediction_log()
        log.append([record(n, model="ames" if n % 2 else "churn") for n in range(10)])
        before = log.read()
        log.close()
        assert log.compact().predictions == 10
        assert not (writer.root / ".shipyard" / "artifacts" / "objects").exists()
        stored = writer.artifacts.fs.find(f"{s3_url}/objects")
        assert len(stored) == 2
    # Another machine: the same settings, an empty cache.
    shutil.rmtree(tmp_path / "proj" / ".shipyard" / "cache", ignore_errors=True)
    with Project.open(tmp_path / "proj") as reader:
        log = reader.prediction_log()
        pd.testing.assert_frame_equal(log.read(), before)
        assert log.find(["p00003", "p99999"]) == {"p00003"}
