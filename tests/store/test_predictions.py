"""Prediction log records in the metadata store: segments, the id index, sources, feedback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shipyard import StoreConflict
from shipyard.store import MetadataStore
from shipyard.store.predictions import NewSegment, PredictionRepository
from shipyard.store.records import StoredOutput

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def records(db_url: str, tmp_path: Path) -> Iterator[PredictionRepository]:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    yield store.predictions
    store.close()


def segment(digest: str, model: str, start: int, ids: list[str]) -> NewSegment:
    artifact = StoredOutput(
        type_name="PredictionSegment", digest=digest * 64, kind="file", size=10, uri="/x"
    )
    return NewSegment(
        artifact=artifact,
        model=model,
        rows=len(ids),
        min_time=T0 + timedelta(hours=start),
        max_time=T0 + timedelta(hours=start + 1),
        prediction_ids=frozenset(ids),
    )


def test_segments_are_found_by_model_and_time(records: PredictionRepository) -> None:
    records.register_segments(
        [segment("a", "ames", 0, ["1", "2"]), segment("b", "churn", 0, ["3"])],
        sources=["host-1-x.jsonl"],
    )
    records.register_segments([segment("c", "ames", 5, ["4"])], sources=["host-1-y.jsonl"])

    assert [s.digest[0] for s in records.segments()] == ["c", "b", "a"]  # newest first
    assert [s.digest[0] for s in records.segments(model="ames")] == ["c", "a"]
    assert [s.digest[0] for s in records.segments(since=T0 + timedelta(hours=2))] == ["c"]
    assert [s.digest[0] for s in records.segments(until=T0 + timedelta(hours=5))] == ["b", "a"]
    assert records.known_ids(["1", "3", "4", "5"]) == {"1", "3", "4"}
    assert records.compacted_sources(["host-1-x.jsonl", "other.jsonl"]) == {"host-1-x.jsonl"}


def test_the_segment_of_a_prediction_is_found_by_its_id(records: PredictionRepository) -> None:
    records.register_segments(
        [segment("a", "ames", 0, ["1", "2"]), segment("b", "churn", 3, ["3"])],
        sources=["host-1-x.jsonl"],
    )

    found = records.segment_of("3")
    assert found is not None and (found.model, found.digest) == ("churn", "b" * 64)
    assert found.min_time == T0 + timedelta(hours=3)
    assert records.segment_of("4") is None


def test_a_spool_file_or_a_parquet_file_is_registered_once(records: PredictionRepository) -> None:
    records.register_segments([segment("a", "ames", 0, ["1"])], sources=["f.jsonl"])
    with pytest.raises(StoreConflict):
        records.register_segments([segment("b", "ames", 0, ["2"])], sources=["f.jsonl"])
    with pytest.raises(StoreConflict):
        records.register_segments([segment("a", "ames", 0, ["1"])], sources=["g.jsonl"])
    # Both failures were rolled back whole: no segment, id or source was left behind.
    assert len(records.segments()) == 1
    assert records.known_ids(["1", "2"]) == {"1"}
    assert records.compacted_sources(["f.jsonl", "g.jsonl"]) == {"f.jsonl"}


def test_ids_are_looked_up_in_chunks(records: PredictionRepository) -> None:
    ids = [f"id-{n}" for n in range(1200)]
    records.register_segments([segment("a", "ames", 0, ids)], sources=["f.jsonl"])
    assert records.known_ids([*ids, "missing"]) == set(ids)


def test_projects_do_not_see_each_others_predictions(
    db_url: str, tmp_path: Path, records: PredictionRepository
) -> None:
    records.register_segments([segment("a", "ames", 0, ["1"])], sources=["f.jsonl"])
    records.save_feedback({"1": 1.0})
    other = MetadataStore(db_url, root=tmp_path, project="other")
    assert other.predictions.segments() == []
    assert other.predictions.known_ids(["1"]) == set()
    assert other.predictions.feedback() == []
    other.close()


def test_feedback_is_replaced_and_filtered(records: PredictionRepository) -> None:
    first = records.save_feedback({"1": "cheap", "2": {"price": 3.5}})
    assert [f.replaced for f in first] == [False, False]
    (again,) = records.save_feedback({"1": "expensive"})
    assert again.replaced

    stored = {f.prediction_id: f.label for f in records.feedback()}
    assert stored == {"1": "expensive", "2": {"price": 3.5}}
    assert [f.label for f in records.feedback(prediction_ids=["2"])] == [{"price": 3.5}]
    assert records.feedback(since=again.received_at + timedelta(seconds=1)) == []
    assert records.save_feedback({}) == []


def test_feedback_keeps_its_source(records: PredictionRepository) -> None:
    (given,) = records.save_feedback({"1": "cat"})
    assert given.source == "api"
    (reviewed,) = records.save_feedback({"2": "dog"}, source="agreed")
    assert reviewed.source == "agreed"
    assert {f.prediction_id: f.source for f in records.feedback()} == {"1": "api", "2": "agreed"}
    records.save_feedback({"2": "cat"})  # a later label replaces the label and its source
    assert [(f.label, f.source) for f in records.feedback(prediction_ids=["2"])] == [("cat", "api")]
