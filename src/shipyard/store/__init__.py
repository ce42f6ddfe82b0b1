"""The metadata store: SQLAlchemy models, Alembic migrations and the queries on them."""

from shipyard.store.database import Database, head_revision
from shipyard.store.lineage import LineageGraph, downstream, upstream
from shipyard.store.metadata import MetadataStore
from shipyard.store.records import ArtifactRecord, ExecutionRecord, RunRecord, StoredOutput

__all__ = [
    "ArtifactRecord",
    "Database",
    "ExecutionRecord",
    "LineageGraph",
    "MetadataStore",
    "RunRecord",
    "StoredOutput",
    "downstream",
    "head_revision",
    "upstream",
]
