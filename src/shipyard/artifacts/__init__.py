"""Immutable, content-addressed artifact storage (local folders, S3, any fsspec URL)."""

from shipyard.artifacts.hashing import file_digest, tree_digest
from shipyard.artifacts.store import ArtifactStore, Kind, StoredBlob

__all__ = ["ArtifactStore", "Kind", "StoredBlob", "file_digest", "tree_digest"]
