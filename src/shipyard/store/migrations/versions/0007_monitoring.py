"""Monitoring: each version's reference, the windows computed over the prediction log,
alerts and their webhook deliveries, and each model's monitoring state: the lease a
monitor holds on it and how far its windows have been computed.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitor_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.UniqueConstraint("project_id", "model", "version"),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.String(20), nullable=False),
        sa.Column("start", NOW, nullable=False),
        sa.Column("end", NOW, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("statistics", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("labelled", sa.Integer, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("updated_at", NOW, nullable=False),
        sa.UniqueConstraint("project_id", "model", "version", "spec", "start"),
    )
    op.create_index("ix_monitor_windows_end", "monitor_windows", ["project_id", "model", "end"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("opened_at", NOW, nullable=False),
        sa.Column("resolved_at", NOW, nullable=True),
        sa.Column(
            "opened_window_id", sa.Integer, sa.ForeignKey("monitor_windows.id"), nullable=True
        ),
        sa.Column("last_window_id", sa.Integer, sa.ForeignKey("monitor_windows.id"), nullable=True),
        sa.Column("delivered", sa.String(20), nullable=True),
        sa.Column("delivery_attempts", sa.Integer, nullable=False),
        sa.Column("delivery_error", sa.Text, nullable=True),
    )
    op.create_index("ix_alerts_status", "alerts", ["project_id", "status"])
    op.create_index("ix_alerts_rule", "alerts", ["project_id", "model", "version", "rule"])
    op.create_table(
        "monitor_state",
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("until", NOW, nullable=False),
        sa.Column("cursor", NOW, nullable=True),
        sa.Column("spec", sa.String(20), nullable=True),
        sa.Column("passed_at", NOW, nullable=True),
    )


def downgrade() -> None:
    for table in ("monitor_state", "alerts", "monitor_windows", "monitor_references"):
        op.drop_table(table)
