"""The metadata store: SQLAlchemy models, Alembic migrations and the queries on them.

The records (plain dataclasses, ``records``) import without SQLAlchemy; the names below
that need it are loaded on first use, so that ``shipyard --help`` and the modules that
only pass records around do not pay for the ORM.
"""

from __future__ import annotations

import typing

from shipyard.exports import lazy_exports
from shipyard.store.records import ArtifactRecord, ExecutionRecord, RunRecord, StoredOutput

if typing.TYPE_CHECKING:
    from shipyard.store.database import Database
    from shipyard.store.lineage import LineageGraph, downstream, upstream
    from shipyard.store.metadata import MetadataStore
    from shipyard.store.reader import StoreReader, head_revision

__all__ = [
    "ArtifactRecord",
    "Database",
    "ExecutionRecord",
    "LineageGraph",
    "MetadataStore",
    "RunRecord",
    "StoreReader",
    "StoredOutput",
    "downstream",
    "head_revision",
    "upstream",
]

_LAZY = {
    "Database": "shipyard.store.database",
    "head_revision": "shipyard.store.reader",
    "StoreReader": "shipyard.store.reader",
    "LineageGraph": "shipyard.store.lineage",
    "downstream": "shipyard.store.lineage",
    "upstream": "shipyard.store.lineage",
    "MetadataStore": "shipyard.store.metadata",
}


__getattr__ = lazy_exports(__name__, _LAZY)
