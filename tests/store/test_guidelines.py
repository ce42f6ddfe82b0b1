"""Labelling guidelines on SQLite and PostgreSQL: a version per changed text."""

from __future__ import annotations

import hashlib

import pytest

from shipyard import Project
from shipyard.errors import ModelNotFound, RecordNotFound


def test_a_new_version_is_made_only_when_the_text_changes(registered: Project) -> None:
    guidelines = registered.store.guidelines
    assert guidelines.latest("m") is None and guidelines.history("m") == []
    first = guidelines.record("m", "Label the animal.", author="ann")
    assert (first.version, first.author) == (1, "ann")
    assert first.digest == hashlib.sha256(b"Label the animal.").hexdigest()
    assert guidelines.record("m", "Label the animal.", author="bob") == first
    second = guidelines.record("m", "Label the animal; foxes are dogs.", author="bob")
    assert (second.version, second.author) == (2, "bob")
    assert guidelines.record("n", "Other text.", author="cid").version == 1  # per model

    assert guidelines.latest("m") == second
    assert guidelines.history("m") == [first, second]
    assert guidelines.version("m", 1) == first
    assert guidelines.record("m", "Label the animal.", author="ann").version == 3  # back again


def test_unknown_versions_and_models_are_named(registered: Project) -> None:
    guidelines = registered.store.guidelines
    guidelines.record("m", "text", author="ann")
    with pytest.raises(RecordNotFound, match="model 'm' has no guidelines version 2"):
        guidelines.version("m", 2)
    with pytest.raises(ModelNotFound, match="no model named 'x'"):
        guidelines.record("x", "text", author="ann")
    with pytest.raises(ModelNotFound):
        guidelines.latest("x")
