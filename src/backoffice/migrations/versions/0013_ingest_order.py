"""Ingest order: a late file is applied as if it had come in date order.

Revision ID: 0013_ingest_order
Revises: 0010_ingest_audit
Create Date: 2026-12-06

A run remembers the day its file is applied at (`import_runs.file_date`: the date its name
carries, or the day it arrived). Each transaction remembers the run and the line it was loaded
from (`ingest_run`, `ingest_line`; the run by default from the import's session setting, so
COPY fills it without a byte more per row), and `import_duplicates` keeps every version a
file set aside for its key. A file dated before one already loaded then takes each duplicated
id from the later file, whose version joins the duplicates, and the quarantine's conflicts are
those duplicates that differ from the version kept, exactly as in date order. Rows loaded
before this revision have no run: they stay first.

The merchants' rollups learn to go down as well as up (a displaced event takes its part away):
a merchant's successes per month (`merchant_month_actives.successes`, active while > 0) and its
events per product and per KYC stage (`merchant_usage`, counted in the adoption and the funnel
while > 0) replace the sets and bitmasks that could only grow.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_ingest_order"
down_revision: str | None = "0010_ingest_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0009_transactions"

RUN_DEFAULT = "(NULLIF(current_setting('backoffice.ingest_run', true), ''))::bigint"
PRODUCTS = ("POS", "AIRTIME", "BILLS", "CARD_PAYMENT", "SAVINGS", "MONIEBOOK", "KYC")
KYC_STAGES = ("DOCUMENT_SUBMITTED", "VERIFICATION_COMPLETED", "TIER_UPGRADE")


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def upgrade() -> None:
    op.add_column("import_runs", sa.Column("file_date", sa.Date(), nullable=True))
    op.add_column(
        "transactions",
        sa.Column(
            "ingest_run", sa.BigInteger(), server_default=sa.text(RUN_DEFAULT), nullable=True
        ),
    )
    op.add_column("transactions", sa.Column("ingest_line", sa.Integer(), nullable=True))
    op.create_table(
        "import_duplicates",
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("raw_line", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "file_name", "line_number", name="pk_import_duplicates"),
    )
    op.create_index("ix_import_duplicates_dataset_key", "import_duplicates", ["dataset", "key"])
    _merchants_upgrade()


def _merchants_upgrade() -> None:
    op.add_column(
        "merchant_activities",
        sa.Column(
            "ingest_run", sa.BigInteger(), server_default=sa.text(RUN_DEFAULT), nullable=True
        ),
    )
    op.add_column(
        "merchant_month_actives",
        sa.Column("successes", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(
        "UPDATE merchant_month_actives t SET successes = s.n FROM (SELECT merchant_id,"
        " date_trunc('month', event_timestamp AT TIME ZONE 'UTC')::date AS month, count(*) AS n"
        " FROM merchant_activities WHERE status = 'SUCCESS' AND event_timestamp IS NOT NULL"
        " GROUP BY 1, 2) s WHERE t.merchant_id = s.merchant_id AND t.month = s.month"
    )
    op.create_table(
        "merchant_usage",
        sa.Column("merchant_id", sa.Text(), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),  # a product, or a KYC stage
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "item", name="pk_merchant_usage"),
    )
    op.execute(
        "INSERT INTO merchant_usage (merchant_id, item, events)"  # noqa: S608 - constants only
        " SELECT merchant_id, product, count(*) FROM merchant_activities GROUP BY 1, 2"
        " UNION ALL SELECT merchant_id, event_type, count(*) FROM merchant_activities"
        f" WHERE status = 'SUCCESS' AND product = 'KYC' AND event_type = ANY({_array(KYC_STAGES)})"
        " GROUP BY 1, 2"
    )
    op.drop_column("merchant_totals", "products")
    op.drop_column("merchant_totals", "kyc_stages")


def _bits(values: tuple[str, ...]) -> str:
    return (
        f"coalesce(bit_or(1 << (array_position({_array(values)}, u.item) - 1))"
        f" FILTER (WHERE u.item = ANY({_array(values)})), 0)"
    )


def _merchants_downgrade() -> None:
    for column in ("products", "kyc_stages"):
        op.add_column(
            "merchant_totals",
            sa.Column(column, sa.Integer(), server_default="0", nullable=False),
        )
        op.alter_column("merchant_totals", column, server_default=None)
    op.execute(
        f"UPDATE merchant_totals t SET products = b.products, kyc_stages = b.kyc FROM"  # noqa: S608
        f" (SELECT u.merchant_id, {_bits(PRODUCTS)} AS products, {_bits(KYC_STAGES)} AS kyc"
        " FROM merchant_usage u WHERE u.events > 0 GROUP BY 1) b WHERE t.merchant_id = b.merchant_id"
    )
    op.drop_table("merchant_usage")
    op.drop_column("merchant_month_actives", "successes")
    op.drop_column("merchant_activities", "ingest_run")


def downgrade() -> None:
    _merchants_downgrade()
    op.drop_table("import_duplicates")
    op.drop_column("transactions", "ingest_line")
    op.drop_column("transactions", "ingest_run")
    op.drop_column("import_runs", "file_date")
