"""Indexes the dashboard's pages need at volume: runs by status or pipeline, what one
step of a run logged, and which execution made an artifact.

The runs page pages through runs filtered by status or pipeline; with only the project
index, a rare status (``crashed``) meant reading every run of the project.  A run's page
shows each step's parameters and metrics, and a cache hit copies what the execution it
reuses logged; both look the rows up by execution, which read every logged value of
every run without an index.  Lineage looks for the first execution that made an
artifact, among every cache hit that reused it since: the events of an artifact in
execution order.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pipeline_runs_status", "pipeline_runs", ["project_id", "status", "id"])
    op.create_index("ix_pipeline_runs_pipeline", "pipeline_runs", ["project_id", "pipeline", "id"])
    op.create_index("ix_run_metrics_execution_id", "run_metrics", ["execution_id"])
    op.create_index("ix_run_params_execution_id", "run_params", ["execution_id"])
    op.create_index(
        "ix_events_artifact_direction", "events", ["artifact_id", "direction", "execution_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_events_artifact_direction", table_name="events")
    op.drop_index("ix_run_params_execution_id", table_name="run_params")
    op.drop_index("ix_run_metrics_execution_id", table_name="run_metrics")
    op.drop_index("ix_pipeline_runs_pipeline", table_name="pipeline_runs")
    op.drop_index("ix_pipeline_runs_status", table_name="pipeline_runs")
