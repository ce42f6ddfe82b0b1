"""Dataset versions in the metadata store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import RecordNotFound
from shipyard.store import MetadataStore
from shipyard.store.datasets import DatasetRepository
from shipyard.store.records import DatasetVersionRecord
from tests.store.helpers import a_run, an_artifact


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    yield store
    store.close()


def register(
    store: MetadataStore, name: str, digest: str, *, rows: int = 10
) -> DatasetVersionRecord:
    examples = an_artifact(store, digest)
    return store.datasets.register(
        name, digest=digest * 64, source=f"{name}.csv", rows=rows, columns=3,
        examples_id=examples.id, run_id=None,
    )  # fmt: skip


def test_the_same_content_is_one_version(store: MetadataStore) -> None:
    first = register(store, "houses", "a")
    again = store.datasets.register(
        "houses", digest="a" * 64, source="elsewhere.csv", rows=99, columns=9,
        examples_id=first.examples_id, run_id=a_run(store).id,
    )  # fmt: skip

    assert again == first  # what was first recorded stays
    assert isinstance(store.datasets, DatasetRepository)
    assert store.datasets.list() == [first]


def test_versions_are_listed_newest_first_and_by_name(store: MetadataStore) -> None:
    first = register(store, "houses", "a")
    churn = register(store, "churn", "b")
    second = register(store, "houses", "c")

    assert store.datasets.list() == [second, churn, first]
    assert store.datasets.list("houses") == [second, first]
    assert store.datasets.list("nothing") == []
    assert store.datasets.get(churn.id) == churn
    assert store.datasets.previous("houses", before_digest="c" * 64) == first
    assert store.datasets.previous("houses", before_digest=None) == second
    assert store.datasets.previous("churn", before_digest="b" * 64) is None


def test_a_version_is_found_by_name_and_content_and_gets_statistics(
    store: MetadataStore,
) -> None:
    version = register(store, "houses", "a")
    register(store, "churn", "a")
    statistics = an_artifact(store, "s")

    store.datasets.attach_statistics(version.id, statistics.id)

    found = store.datasets.find("houses", "a" * 64)
    assert found is not None and found.id == version.id
    assert found.statistics_id == statistics.id
    assert store.datasets.find("houses", "b" * 64) is None
    assert store.datasets.find("nothing", "a" * 64) is None


def test_an_unknown_version_or_another_projects_is_not_found(
    store: MetadataStore, db_url: str, tmp_path: Path
) -> None:
    version = register(store, "houses", "a")
    other = MetadataStore(db_url, root=tmp_path, project="other")
    try:
        with pytest.raises(RecordNotFound, match=f"dataset version {version.id} does not exist"):
            other.datasets.get(version.id)
        assert other.datasets.list() == []
    finally:
        other.close()
    with pytest.raises(RecordNotFound, match="dataset version 999 does not exist"):
        store.datasets.get(999)
