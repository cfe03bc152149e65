"""The `transactions` table its users already query, and the per-user summary kept by triggers.

`transactions` has exactly the columns of the existing schema, with `amount` as NUMERIC(14, 2)
instead of FLOAT because it is money. `transaction_user_summaries` is written only by the
statement-level triggers of migration 0009_transactions (never by the application), in the same
transaction as every insert, update, delete, COPY or TRUNCATE of `transactions`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base


class Transaction(Base):
    """One financial transaction; `transaction_id` is the business key (first occurrence wins)."""

    __tablename__ = "transactions"
    __table_args__ = (
        # The list by user, newest first, within a date range: an index range scan in order.
        Index("ix_transactions_user_id_date", "user_id", "transaction_date", "id"),
        # Every user's, by date range, newest first (docs/query-optimization.md: not BRIN).
        Index("ix_transactions_transaction_date_id", "transaction_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # serial
    transaction_id: Mapped[str] = mapped_column(String(50), unique=True)
    user_id: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    transaction_date: Mapped[date] = mapped_column(Date)
    # Where the row was loaded from (`import_runs.id`, line): a late file's earlier version
    # takes its place (migration 0013_ingest_order). NULL: loaded otherwise, or before 0013.
    ingest_run: Mapped[int | None] = mapped_column(
        BigInteger,
        server_default=text("(NULLIF(current_setting('backoffice.ingest_run', true), ''))::bigint"),
    )
    ingest_line: Mapped[int | None] = mapped_column(Integer)


class TransactionUserSummary(Base):
    """Count and sum of one user's transactions; a user with none has no row."""

    __tablename__ = "transaction_user_summaries"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    transaction_count: Mapped[int] = mapped_column(BigInteger)
    # A sum of NUMERIC(14, 2) amounts: room for ten million rows at the largest amount.
    amount_total: Mapped[Decimal] = mapped_column(Numeric(24, 2))
