"""Deployments of candidate versions, their history, and the requests each arm answered.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("primary_version", sa.Integer, nullable=False),
        sa.Column("candidate_version", sa.Integer, nullable=False),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("percent", sa.Float, nullable=False),
        sa.Column("sticky_key", sa.String(200), nullable=True),
        sa.Column("live", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("analysis", sa.JSON, nullable=True),
        sa.Column("next_analysis_at", NOW, nullable=True),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", NOW, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("ended_at", NOW, nullable=True),
    )
    op.create_index("ix_deployments_model_status", "deployments", ["model_id", "status"])
    op.create_table(
        "deployment_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
    )
    op.create_index("ix_deployment_events_deployment_id", "deployment_events", ["deployment_id"])
    op.create_index("ix_deployment_events_model_id", "deployment_events", ["model_id"])
    op.create_table(
        "deployment_arm_counts",
        sa.Column(
            "deployment_id",
            sa.Integer,
            sa.ForeignKey("deployments.id"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("arm", sa.String(20), primary_key=True, nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deployment_arm_counts")
    op.drop_table("deployment_events")
    op.drop_table("deployments")
