"""Ingest audit for the ETL: how a run started, conflicting duplicates, task events.

Revision ID: 0010_ingest_audit
Revises: 0005_merchants
Create Date: 2026-12-04

On the merchants' branch, which owns `import_runs` and `import_rejects` (the engine's audit,
shared by every dataset: one audit, not a second one beside it). `import_runs` learns how the
run was started (`cli` or `airflow`, with the DAG run id and logical date) and how many
duplicates conflicted with the version kept; `import_rejects` holds that kept version beside
the conflicting line; `import_task_events` keeps what the ETL's tasks said.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_ingest_audit"
down_revision: str | None = "0005_merchants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "import_runs",
        sa.Column("conflicting", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "import_runs",
        sa.Column("started_by", sa.String(20), server_default="cli", nullable=False),
    )
    op.add_column("import_runs", sa.Column("dag_run_id", sa.String(250), nullable=True))
    op.add_column(
        "import_runs", sa.Column("logical_date", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_import_runs_started_by"), "import_runs", "started_by IN ('cli', 'airflow')"
    )
    op.add_column("import_rejects", sa.Column("first_version", sa.Text(), nullable=True))
    op.create_table(
        "import_task_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("dag_run_id", sa.String(250), nullable=True),
        sa.Column("import_run_id", sa.BigInteger(), nullable=True),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('debug', 'info', 'warning', 'error')", name="ck_import_task_events_level"
        ),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_runs.id"],
            name="fk_import_task_events_import_run_id_import_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_import_task_events"),
    )
    op.create_index("ix_import_task_events_dag_run_id", "import_task_events", ["dag_run_id"])
    op.create_index("ix_import_task_events_import_run_id", "import_task_events", ["import_run_id"])


def downgrade() -> None:
    op.drop_table("import_task_events")
    op.drop_column("import_rejects", "first_version")
    op.drop_constraint(op.f("ck_import_runs_started_by"), "import_runs")
    for column in ("logical_date", "dag_run_id", "started_by", "conflicting"):
        op.drop_column("import_runs", column)
