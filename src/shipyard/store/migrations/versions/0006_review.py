"""Human review: automation levels and their history, the review queue and its labels,
labelling guidelines, and where each feedback label came from.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_levels",
        sa.Column(
            "model_id",
            sa.Integer,
            sa.ForeignKey("registered_models.id"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("target_precision", sa.Float, nullable=True),
        sa.Column("max_interval_width", sa.Float, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "automation_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("at", NOW, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=False),
    )
    op.create_index("ix_automation_events_model_id", "automation_events", ["model_id"])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("prediction_id", sa.String(128), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("suggestion", sa.JSON, nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("interval_low", sa.Float, nullable=True),
        sa.Column("interval_high", sa.Float, nullable=True),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("blind", sa.Boolean, nullable=False),
        sa.Column("labels_required", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("resolution", sa.String(20), nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("lease_until", NOW, nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("resolved_at", NOW, nullable=True),
        sa.UniqueConstraint("project_id", "prediction_id"),
    )
    op.create_index("ix_review_items_queue", "review_items", ["project_id", "status", "created_at"])
    op.create_index(
        "ix_review_items_model_queue",
        "review_items",
        ["project_id", "model", "status", "created_at"],
    )
    op.create_table(
        "review_labels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("guideline_version", sa.Integer, nullable=True),
        sa.Column("created_at", NOW, nullable=False),
    )
    op.create_index("ix_review_labels_item_id", "review_labels", ["item_id"])
    op.create_table(
        "guidelines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.UniqueConstraint("model_id", "version"),
    )
    op.add_column(
        "feedback",
        sa.Column("source", sa.String(20), nullable=False, server_default="api"),
    )


def downgrade() -> None:
    op.drop_column("feedback", "source")
    for table in (
        "guidelines",
        "review_labels",
        "review_items",
        "automation_events",
        "automation_levels",
    ):
        op.drop_table(table)
