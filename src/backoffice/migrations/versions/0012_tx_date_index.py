"""Transactions: a B-tree on (transaction_date, id) for the list by date range, newest first.

Revision ID: 0012_tx_date_index
Revises: 0011_tx_summary_fillfactor
Create Date: 2026-12-06

At 10 million rows (bench/transactions_queries.py, docs/query-optimization.md) the first page of
a week, newest first, took 0.38 ms with this index, 187 ms with a BRIN on transaction_date and
640 ms with neither: late arrivals (up to 60 days) widen every BRIN range, so a week's bitmap is
lossy over a quarter of the table. The index is 212 MB at 10M rows; the dates arrive nearly in
order, so the load appends at its right edge.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_tx_date_index"
down_revision: str | None = "0011_tx_summary_fillfactor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_transactions_transaction_date_id", "transactions", ["transaction_date", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_transaction_date_id", table_name="transactions")
