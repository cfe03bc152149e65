"""Transactions: the `transactions` table and the per-user summary kept by triggers.

Revision ID: 0009_transactions
Revises: 0002_org
Create Date: 2026-12-04

The summary (count and sum per user) is kept by statement-level triggers with transition
tables, as payroll keeps its salary aggregates: a COPY of a million rows updates it once per
statement, in the same transaction as the rows, whoever writes the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_transactions"
down_revision: str | None = "0002_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMARY = "transaction_user_summaries"

# `rows` is the SQL of the (user_id, n, total) changes of the statement. Upserts go in user
# order so that concurrent writers lock summary rows in one order (no deadlock between them);
# a user whose last transaction went is removed, so "no row" means "no transactions".
TRIGGER_FUNCTION = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transaction_user_summaries AS s (user_id, transaction_count, amount_total)
    SELECT user_id, sum(n), sum(total) FROM ({rows}) AS changed
    GROUP BY user_id
    HAVING sum(n) <> 0 OR sum(total) <> 0
    ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE
    SET transaction_count = s.transaction_count + excluded.transaction_count,
        amount_total = s.amount_total + excluded.amount_total;
    {cleanup}
    RETURN NULL;
END $$;
"""

CLEANUP = """
    DELETE FROM transaction_user_summaries AS s
    USING (SELECT DISTINCT user_id FROM old_rows) AS gone
    WHERE s.user_id = gone.user_id AND s.transaction_count = 0;
"""

ADDED = "SELECT user_id, 1 AS n, amount AS total FROM new_rows"
REMOVED = "SELECT user_id, -1 AS n, -amount AS total FROM old_rows"

# name: (event, transition tables, changed rows, cleanup)
TRIGGERS = {
    "transactions_summary_insert": ("INSERT", "NEW TABLE AS new_rows", ADDED, ""),
    "transactions_summary_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"{ADDED} UNION ALL {REMOVED}",
        CLEANUP,
    ),
    "transactions_summary_delete": ("DELETE", "OLD TABLE AS old_rows", REMOVED, CLEANUP),
}

TRUNCATE_FUNCTION = """
CREATE FUNCTION transactions_summary_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM transaction_user_summaries;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(50), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("transaction_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.UniqueConstraint("transaction_id", name="uq_transactions_transaction_id"),
    )
    op.create_index(
        "ix_transactions_user_id_date", "transactions", ["user_id", "transaction_date", "id"]
    )
    op.create_table(
        SUMMARY,
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("transaction_count", sa.BigInteger(), nullable=False),
        sa.Column("amount_total", sa.Numeric(24, 2), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=f"pk_{SUMMARY}"),
    )
    for name, (event, referencing, rows, cleanup) in TRIGGERS.items():
        op.execute(TRIGGER_FUNCTION.format(name=name, rows=rows, cleanup=cleanup))
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON transactions REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER transactions_summary_truncate AFTER TRUNCATE ON transactions "
        "FOR EACH STATEMENT EXECUTE FUNCTION transactions_summary_truncate()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER transactions_summary_truncate ON transactions")
    op.execute("DROP FUNCTION transactions_summary_truncate()")
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON transactions")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table(SUMMARY)
    op.drop_index("ix_transactions_user_id_date", table_name="transactions")
    op.drop_table("transactions")
