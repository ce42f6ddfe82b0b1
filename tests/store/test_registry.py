"""Registry records in the metadata store, on SQLite and PostgreSQL.

The registry's rules (references, loading) are tested in ``tests/registry``; this module
tests what the store keeps: numbered versions, aliases, their history and tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import ModelNotFound
from shipyard.store import MetadataStore
from shipyard.store.records import ModelVersionRecord
from shipyard.store.registry import ModelRepository
from tests.store.helpers import a_run, an_artifact


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(db_url, root=tmp_path, project="p")
    yield store
    store.close()


def register(store: MetadataStore, name: str, digest: str, **extra: Any) -> ModelVersionRecord:
    options: dict[str, Any] = {
        "run_id": None,
        "dataset_version_id": None,
        "blessed": False,
        "infra_validated": False,
        "metrics": {},
        "reasons": {},
        "code_version": None,
    }
    options.update(extra)
    return store.models.register_version(name, package_id=an_artifact(store, digest).id, **options)


def test_versions_are_numbered_per_model_and_keep_what_made_them(store: MetadataStore) -> None:
    run = a_run(store)
    first = register(
        store, "ames", "a", run_id=run.id, blessed=True, metrics={"rmse": 2.5}, code_version="abc"
    )
    second = register(store, "ames", "b")
    other = register(store, "churn", "c")

    assert isinstance(store.models, ModelRepository)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert (first.run_id, first.blessed, first.metrics, first.code_version) == (
        run.id, True, {"rmse": 2.5}, "abc"
    )  # fmt: skip
    assert store.models.version("ames", 1) == first
    assert [v.version for v in store.models.versions("ames")] == [2, 1]  # newest first
    assert store.models.by_package("ames", second.package.id) == second
    assert store.models.by_package("ames", other.package.id) is None
    assert store.models.by_package("nothing", other.package.id) is None
    listed = {model.name: model.latest_version for model in store.models.list_models()}
    assert listed == {"ames": 2, "churn": 1}


def test_aliases_move_and_every_move_is_kept(store: MetadataStore) -> None:
    register(store, "ames", "a")
    register(store, "ames", "b")
    models = store.models

    first = models.move_alias("ames", "production", 1, actor="ann", reason="first")
    moved = models.move_alias("ames", "production", 2, actor="bob", reason="better")
    unchanged = models.move_alias("ames", "production", 2, actor="bob", reason="again")

    assert first is not None and (first.from_version, first.to_version) == (None, 1)
    assert moved is not None and (moved.from_version, moved.to_version) == (1, 2)
    assert unchanged is None
    assert models.by_alias("ames", "production").version == 2
    assert models.version("ames", 2).aliases == ["production"]
    assert models.version("ames", 1).aliases == []
    history = [
        (e.alias, e.from_version, e.to_version, e.actor) for e in models.alias_history("ames")
    ]
    assert history == [("production", None, 1, "ann"), ("production", 1, 2, "bob")]
    assert models.list_models()[0].aliases == {"production": 2}


def test_tags_are_kept_with_the_version(store: MetadataStore) -> None:
    register(store, "ames", "a")
    store.models.set_tags("ames", 1, {"owner": "ann", "reviewed": True})
    assert store.models.version("ames", 1).tags == {"owner": "ann", "reviewed": True}


def test_versions_listed_together_keep_their_own_package_aliases_and_tags(
    store: MetadataStore,
) -> None:
    for digest in "abcd":
        register(store, "ames", digest, metrics={"rmse": float(ord(digest))})
    store.models.move_alias("ames", "production", 2, actor="ann", reason="")
    store.models.move_alias("ames", "staging", 4, actor="ann", reason="")
    store.models.set_tags("ames", 3, {"owner": "bo"})

    listed = store.models.versions("ames")

    assert [record.version for record in listed] == [4, 3, 2, 1]
    assert [record.package.digest for record in listed] == [d * 64 for d in "dcba"]
    assert [record.aliases for record in listed] == [["staging"], [], ["production"], []]
    assert [record.tags for record in listed] == [{}, {"owner": "bo"}, {}, {}]
    assert [record.metrics["rmse"] for record in listed] == [100.0, 99.0, 98.0, 97.0]
    assert listed == [store.models.version("ames", v) for v in (4, 3, 2, 1)]


def test_unknown_models_versions_and_aliases_are_named(store: MetadataStore) -> None:
    register(store, "ames", "a")
    store.models.move_alias("ames", "production", 1, actor="ann", reason="")

    with pytest.raises(ModelNotFound, match="no model named 'nope'; registered models: ames"):
        store.models.versions("nope")
    with pytest.raises(ModelNotFound, match="model 'ames' has no version 7"):
        store.models.version("ames", 7)
    with pytest.raises(ModelNotFound, match="model 'ames' has no version 7"):
        store.models.move_alias("ames", "staging", 7, actor="ann", reason="")
    with pytest.raises(ModelNotFound, match="has no alias 'staging'; its aliases: production"):
        store.models.by_alias("ames", "staging")


def test_projects_do_not_see_each_others_models(
    store: MetadataStore, db_url: str, tmp_path: Path
) -> None:
    register(store, "ames", "a")
    other = MetadataStore(db_url, root=tmp_path, project="other")
    try:
        assert other.models.list_models() == []
        with pytest.raises(ModelNotFound, match="registered models: none yet"):
            other.models.version("ames", 1)
    finally:
        other.close()


def test_versions_come_in_pages_newest_first_with_their_aliases_and_tags(
    store: MetadataStore,
) -> None:
    for number in range(1, 8):
        register(store, "ames", str(number), metrics={"rmse": float(number)})
    store.models.move_alias("ames", "production", 5, actor="ann", reason="best")
    store.models.set_tags("ames", 4, {"owner": "ann"})

    first = store.models.versions("ames", limit=3)
    second = store.models.versions("ames", limit=3, before=first[-1].version)
    rest = store.models.versions("ames", limit=3, before=second[-1].version)

    assert [[v.version for v in page] for page in (first, second, rest)] == [
        [7, 6, 5], [4, 3, 2], [1]
    ]  # fmt: skip
    assert second[0].tags == {"owner": "ann"} and first[2].aliases == ["production"]
    assert first[0].metrics == {"rmse": 7.0} and first[0].package.digest == "7" * 64
    assert [v for page in (first, second, rest) for v in page] == store.models.versions("ames")
    assert store.models.versions("ames", limit=3)[2] == store.models.version("ames", 5)
