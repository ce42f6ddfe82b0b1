"""Runs outside pipelines: every run belongs to an experiment, may have a name, and may
be nested under another run (a Tuner's trials, a notebook's child runs).

``kind`` says what made the run: ``pipeline`` (the runner), ``tracked``
(``shipyard.start_run``) or ``trial`` (one trial of a Tuner).  Pipeline runs recorded
before take their pipeline's name as their experiment.  Metrics are read back as one
key's history of one run: the index by run alone becomes one by run, key and order.  A
tracked run's points have no execution, so the index by execution leaves them out.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

STEPS_ONLY = "execution_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(20), nullable=False, server_default="pipeline")
        )
        batch.add_column(sa.Column("experiment", sa.String(200), nullable=True))
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
        batch.add_column(
            sa.Column(
                "parent_id",
                sa.Integer,
                sa.ForeignKey("pipeline_runs.id", name="fk_pipeline_runs_parent_id"),
                nullable=True,
            )
        )
    op.execute("UPDATE pipeline_runs SET experiment = pipeline")
    op.create_index(
        "ix_pipeline_runs_experiment", "pipeline_runs", ["project_id", "experiment", "id"]
    )
    op.create_index("ix_pipeline_runs_parent_id", "pipeline_runs", ["parent_id"])
    op.create_index("ix_run_metrics_history", "run_metrics", ["run_id", "key", "id"])
    op.drop_index("ix_run_metrics_run_id", table_name="run_metrics")
    op.drop_index("ix_run_metrics_execution_id", table_name="run_metrics")
    op.create_index(
        "ix_run_metrics_execution_id",
        "run_metrics",
        ["execution_id"],
        sqlite_where=sa.text(STEPS_ONLY),
        postgresql_where=sa.text(STEPS_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_run_metrics_execution_id", table_name="run_metrics")
    op.create_index("ix_run_metrics_execution_id", "run_metrics", ["execution_id"])
    op.create_index("ix_run_metrics_run_id", "run_metrics", ["run_id"])
    op.drop_index("ix_run_metrics_history", table_name="run_metrics")
    op.drop_index("ix_pipeline_runs_parent_id", table_name="pipeline_runs")
    op.drop_index("ix_pipeline_runs_experiment", table_name="pipeline_runs")
    with op.batch_alter_table("pipeline_runs") as batch:
        for column in ("parent_id", "name", "experiment", "kind"):
            batch.drop_column(column)
