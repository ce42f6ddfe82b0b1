"""The closed loop: each retrain a model went through, and every step of it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loop_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("production_version", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("deployment_id", sa.Integer, nullable=True),
        sa.Column("holdout", sa.JSON, nullable=True),
        sa.Column("gate", sa.JSON, nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.Column("finished_at", NOW, nullable=True),
    )
    op.create_index("ix_loop_runs_model", "loop_runs", ["project_id", "model", "id"])
    op.create_table(
        "loop_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("loop_run_id", sa.Integer, sa.ForeignKey("loop_runs.id"), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", NOW, nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
    )
    op.create_index("ix_loop_events_loop_run_id", "loop_events", ["loop_run_id"])


def downgrade() -> None:
    op.drop_table("loop_events")
    op.drop_table("loop_runs")
