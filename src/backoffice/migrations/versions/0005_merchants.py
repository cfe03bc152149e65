"""Ingest run audit and quarantine; merchant activities and their rollups.

Revision ID: 0005_merchants
Revises: 0002_org
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_merchants"
down_revision: str | None = "0002_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _counter(table: str, key: str) -> None:
    op.create_table(
        table,
        sa.Column(key, sa.Text() if key != "month" else sa.Date(), nullable=False),
        sa.Column("merchants", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(key, name=f"pk_{table}"),
    )


def _set(table: str, second: str, second_type: sa.types.TypeEngine[object]) -> None:
    op.create_table(
        table,
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column(second, second_type, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", second, name=f"pk_{table}"),
    )


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("inserted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("flagged", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
    )
    op.create_index("ix_import_runs_dataset_file_name", "import_runs", ["dataset", "file_name"])
    op.create_index(
        "uq_import_runs_succeeded_file",
        "import_runs",
        ["dataset", "file_name"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
    )
    op.create_table(
        "import_rejects",
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("raw_line", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "file_name", "line_number", name="pk_import_rejects"),
    )
    op.create_table(
        "merchant_activities",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("event_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("merchant_tier", sa.Text(), nullable=True),
        sa.Column("quality_flags", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_merchant_activities"),
    )
    _set("merchant_month_actives", "month", sa.Date())
    _counter("merchant_monthly_counts", "month")
    _counter("merchant_product_adoption", "product")
    _counter("merchant_kyc_funnel", "event_type")
    op.create_table(
        "merchant_product_stats",
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("success_count", sa.BigInteger(), nullable=False),
        sa.Column("failed_count", sa.BigInteger(), nullable=False),
        sa.Column("pending_count", sa.BigInteger(), nullable=False),
        sa.Column("success_amount", sa.Numeric(20, 2), nullable=False),
        sa.Column("total_amount", sa.Numeric(20, 2), nullable=False),
        sa.PrimaryKeyConstraint("product", name="pk_merchant_product_stats"),
    )
    op.create_table(
        "merchant_totals",
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("success_volume", sa.Numeric(20, 2), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("success_count", sa.BigInteger(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.Column("kyc_stages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_merchant_totals"),
    )
    # Each import updates most rows once: room on the page keeps the updates HOT.
    op.execute("ALTER TABLE merchant_totals SET (fillfactor = 50)")
    op.create_table(
        "merchant_top",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("success_volume", sa.Numeric(20, 2), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_merchant_top_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_merchant_top"),
    )


def downgrade() -> None:
    for table in (
        "merchant_top",
        "merchant_totals",
        "merchant_product_stats",
        "merchant_kyc_funnel",
        "merchant_product_adoption",
        "merchant_monthly_counts",
        "merchant_month_actives",
        "merchant_activities",
        "import_rejects",
        "import_runs",
    ):
        op.drop_table(table)
