"""Accounting: the ledger (every kind of movement) in place of `credits`; plans' interest and lock-in.

Every credit becomes a `credit` entry with the same id, instant, amounts, running balances and
idempotency key, numbered per account in the order the balances ran (`seq`). The snapshots are
dropped: they predate the aggregate's entry count, and the library rebuilds an account from its
events when it finds none (docs/decisions.md "Savings ledger").

Revision ID: accounting_0005
Revises: accounting_0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounting_0005"
down_revision: str | None = "accounting_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)
RATE = sa.Numeric(8, 6)
KINDS = "('credit', 'withdrawal', 'transfer', 'interest', 'reversal')"


def upgrade() -> None:
    """Create the ledger from the credits, the plan changes' table and the plans' new terms."""
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("main", MONEY, nullable=False),
        sa.Column("savings", MONEY, nullable=False),
        sa.Column("main_balance", MONEY, nullable=False),
        sa.Column("savings_balance", MONEY, nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("request_hash", sa.Text(), nullable=True),
        sa.Column("reverses", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("period", sa.Text(), nullable=True),
        sa.Column("reversed_by", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_ledger_entries_kind"),
        sa.CheckConstraint("amount > 0", name="ck_ledger_entries_amount"),
        sa.CheckConstraint(
            "main_balance >= 0 AND savings_balance >= 0", name="ck_ledger_entries_balances"
        ),
        sa.PrimaryKeyConstraint("entry_id", name="pk_ledger_entries"),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name="uq_ledger_entries_account_id_idempotency_key"
        ),
    )
    op.execute(
        "INSERT INTO ledger_entries (entry_id, account_id, seq, kind, at, amount, main, savings,"
        " main_balance, savings_balance, originator_version, idempotency_key, request_hash)"
        " SELECT credit_id, account_id,"
        " row_number() OVER (PARTITION BY account_id ORDER BY originator_version), 'credit', at,"
        " amount, main, savings, main_balance, savings_balance, originator_version,"
        " idempotency_key, request_hash FROM credits"
    )
    # Built after the copy: one sort each, not one insert at a time.
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id", "at", "seq"])
    # Credits (the common write) are left out of the indexes below.
    op.create_index(
        "ix_ledger_entries_account_id_kind",
        "ledger_entries",
        ["account_id", "kind", "at", "seq"],
        postgresql_where=sa.text("kind <> 'credit'"),
    )
    op.create_index(
        "ix_ledger_entries_reverses",
        "ledger_entries",
        ["reverses"],
        unique=True,
        postgresql_where=sa.text("reverses IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_entries_interest_period",
        "ledger_entries",
        ["account_id", "period"],
        unique=True,
        postgresql_where=sa.text("kind = 'interest'"),
    )
    op.drop_index("ix_credits_account_id", table_name="credits")
    op.drop_table("credits")
    op.execute("DELETE FROM accounting_snapshots")

    op.create_table(
        "plan_changes",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=False),
        sa.Column("interest_rate", RATE, nullable=False),
        sa.Column("lock_in_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "originator_version", name="pk_plan_changes"),
    )
    op.add_column(
        "plans", sa.Column("lock_in_days", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("plans", sa.Column("interest_rate", RATE, server_default="0", nullable=False))
    op.create_check_constraint("ck_plans_lock_in_days", "plans", "lock_in_days BETWEEN 0 AND 3650")
    op.create_check_constraint(
        "ck_plans_interest_rate", "plans", "interest_rate BETWEEN 0 AND 0.25"
    )
    op.add_column("accounts", sa.Column("interest_through", sa.Date(), nullable=True))


def downgrade() -> None:
    """Put the credits back from the ledger, only while the events hold nothing newer.

    Refused when any event the code before this revision cannot read is stored: a movement
    other than a credit, a month's interest (even one that paid nothing) or a plan assigned
    with its interest and lock-in. The snapshots go (they may hold the new attributes).
    """
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM accounting_events WHERE"
        " topic ~ 'Account[.](Withdrawn|Transferred|InterestPosted|Reversed)$'"
        " OR (topic ~ 'Account[.]PlanAssigned$'"
        " AND convert_from(state, 'UTF8')::jsonb ? 'interest_rate'))"
        " THEN RAISE EXCEPTION 'events newer than accounting_0004 are stored: the ledger"
        " cannot go back to credits'; END IF; END $$"
    )
    op.execute("DELETE FROM accounting_snapshots")
    op.drop_column("accounts", "interest_through")
    op.drop_constraint("ck_plans_interest_rate", "plans", type_="check")
    op.drop_constraint("ck_plans_lock_in_days", "plans", type_="check")
    op.drop_column("plans", "interest_rate")
    op.drop_column("plans", "lock_in_days")
    op.drop_table("plan_changes")
    op.create_table(
        "credits",
        sa.Column("credit_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("main", MONEY, nullable=False),
        sa.Column("savings", MONEY, nullable=False),
        sa.Column("main_balance", MONEY, nullable=False),
        sa.Column("savings_balance", MONEY, nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("credit_id", name="pk_credits"),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name="uq_credits_account_id_idempotency_key"
        ),
    )
    op.execute(
        "INSERT INTO credits SELECT entry_id, account_id, at, amount, main, savings, main_balance,"
        " savings_balance, originator_version, idempotency_key, request_hash FROM ledger_entries"
    )
    op.create_index("ix_credits_account_id", "credits", ["account_id", "at", "originator_version"])
    op.drop_table("ledger_entries")
