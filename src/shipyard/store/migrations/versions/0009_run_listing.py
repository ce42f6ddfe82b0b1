"""Runs listed by status or pipeline, newest first, without reading every run.

The dashboard pages through runs filtered by status or pipeline; with only the project
index, a rare status (``crashed``) meant reading every run of the project.

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


def downgrade() -> None:
    op.drop_index("ix_pipeline_runs_pipeline", "pipeline_runs")
    op.drop_index("ix_pipeline_runs_status", "pipeline_runs")
