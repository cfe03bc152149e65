"""Transactions: room on the summary's pages for HOT updates.

Revision ID: 0011_tx_summary_fillfactor
Revises: 0009_transactions
Create Date: 2026-12-05

Every block of a load updates the summary row of most of the users in it. At fillfactor 50 an
update finds room on its own page and stays HOT (no new index entry), as `merchant_totals`
does: the load of 1 million rows with the trigger took 7.3-7.6 s at the default fillfactor and
6.2-6.4 s at 50 (bench/transactions_etl.py, docs/benchmarks.md). The table holds one short row
per user, so the doubled size is small.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_tx_summary_fillfactor"
down_revision: str | None = "0009_transactions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE transaction_user_summaries SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE transaction_user_summaries RESET (fillfactor)")
