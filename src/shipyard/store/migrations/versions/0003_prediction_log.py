"""The prediction log's segments and id index, and feedback labels.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("min_time", NOW, nullable=False),
        sa.Column("max_time", NOW, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.UniqueConstraint("artifact_id"),
    )
    op.create_index(
        "ix_prediction_segments_project_model_time",
        "prediction_segments",
        ["project_id", "model", "max_time"],
    )
    op.create_table(
        "prediction_index",
        sa.Column("prediction_id", sa.String(128), nullable=False),
        sa.Column(
            "segment_id", sa.Integer, sa.ForeignKey("prediction_segments.id"), nullable=False
        ),
        sa.PrimaryKeyConstraint("prediction_id", "segment_id"),
    )
    op.create_table(
        "prediction_sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("compacted_at", NOW, nullable=False),
        sa.UniqueConstraint("project_id", "name"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("prediction_id", sa.String(128), nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("received_at", NOW, nullable=False),
        sa.UniqueConstraint("project_id", "prediction_id"),
    )
    op.create_index("ix_feedback_project_received", "feedback", ["project_id", "received_at"])


def downgrade() -> None:
    for table in ("feedback", "prediction_sources", "prediction_index", "prediction_segments"):
        op.drop_table(table)
