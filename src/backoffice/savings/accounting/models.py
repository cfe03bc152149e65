"""The accounting database's tables (its own metadata: this is not the main database).

`plans` is written by the service; `accounts`, `ledger_entries`, `plan_changes` and
`processed_messages` only by the event store's recorder, in the events' transaction (`ledger.py`
builds the rows, `recorder.py` writes them); the library's own tables are
declared here so that autogenerate sees the whole schema, but `accounting_0001` creates them
with the library's exact DDL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backoffice.core.db import NAMING_CONVENTION
from backoffice.core.messaging.inbox import processed_messages_table

MONEY = Numeric(14, 2)
# The advisory locks that order an account's saves and the reads of its history: a save holds
# `(BOOKING_LOCK, hashtext(account id))` from its booking instant to its commit (`store.py`),
# a read up to an instant takes it shared for one statement (`queries.settle`).
BOOKING_LOCK = 18


class AccountingBase(DeclarativeBase):
    """Declarative base of the accounting service's database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# What an entry of each kind does (`ledger.py`); the table's check constraint says the same.
ENTRY_KINDS = ("credit", "withdrawal", "transfer", "interest", "reversal")
# An annual rate: a fraction with six decimal places (0.025 is 2.5%), at most `interest.MAX_RATE`.
RATE = Numeric(8, 6)
# The longest lock-in a plan may have, in days (ten years).
MAX_LOCK_IN_DAYS = 3650


class Plan(AccountingBase):
    """A billing plan: how credits are split, the interest it pays, how long savings stay locked.

    Its terms are copied into each account's `PlanAssigned` event, so a plan never changes.
    """

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("kind IN ('flat-amount', 'percentage')", name="kind"),
        CheckConstraint(
            "(kind = 'flat-amount' AND value > 0) OR (kind = 'percentage' AND value BETWEEN 0 AND 100)",
            name="value",
        ),
        CheckConstraint(f"lock_in_days BETWEEN 0 AND {MAX_LOCK_IN_DAYS}", name="lock_in_days"),
        CheckConstraint("interest_rate BETWEEN 0 AND 0.25", name="interest_rate"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    value: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lock_in_days: Mapped[int] = mapped_column(Integer, server_default="0")
    interest_rate: Mapped[Decimal] = mapped_column(RATE, server_default="0")


class AccountView(AccountingBase):
    """An account's current profile and plan (projection of its events)."""

    __tablename__ = "accounts"
    __table_args__ = (
        # The open accounts on a plan, by email: an operator's page of a plan's customers.
        Index(
            "ix_accounts_plan_id_email",
            "plan_id",
            "email",
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    full_name: Mapped[str] = mapped_column(Text)
    plan_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("plans.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The oldest version of the customer's tokens still good (see the aggregate).
    token_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # The last day of the last month whose interest was posted (None: none yet).
    interest_through: Mapped[date | None] = mapped_column(Date)


class LedgerEntry(AccountingBase):
    """One movement of money with the running balances after it (projection of the movements).

    `main` and `savings` are the signed changes; `amount` is what moved (above zero). The balance
    at an instant is the last row at or before it: one descent of `ix_ledger_entries_account_id`
    (account, time, sequence), as is a time range. `seq` numbers an account's entries from 1:
    the aggregate counts them too, so a read can tell whether the account moved since (a lock-in
    check). An entry is reversed at most once (`reverses` is unique), a month's interest posted
    at most once (`ix_ledger_entries_interest_period`).
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN {ENTRY_KINDS!r}", name="kind"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("main_balance >= 0 AND savings_balance >= 0", name="balances"),
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_ledger_entries_account_id", "account_id", "at", "seq"),
        # The indexes below leave credits out: a credit (the common write) maintains the same
        # three indexes as before the ledger (bench/savings_credits.py).
        Index(
            "ix_ledger_entries_account_id_kind",
            "account_id",
            "kind",
            "at",
            "seq",
            postgresql_where=text("kind <> 'credit'"),
        ),
        Index(
            "ix_ledger_entries_reverses",
            "reverses",
            unique=True,
            postgresql_where=text("reverses IS NOT NULL"),
        ),
        Index(
            "ix_ledger_entries_interest_period",
            "account_id",
            "period",
            unique=True,
            postgresql_where=text("kind = 'interest'"),
        ),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    main: Mapped[Decimal] = mapped_column(MONEY)
    savings: Mapped[Decimal] = mapped_column(MONEY)
    main_balance: Mapped[Decimal] = mapped_column(MONEY)
    savings_balance: Mapped[Decimal] = mapped_column(MONEY)
    originator_version: Mapped[int] = mapped_column(BigInteger)
    # A customer's or an operator's key and a digest of their request (None: interest).
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str | None] = mapped_column(Text)
    reverses: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str | None] = mapped_column(Text)
    # The month an interest entry was earned in, "YYYY-MM".
    period: Mapped[str | None] = mapped_column(Text)
    # The operator who made a reversal (their username).
    reversed_by: Mapped[str | None] = mapped_column(Text)


class PlanChange(AccountingBase):
    """A plan put in force on an account, with the terms interest and lock-in read from it."""

    __tablename__ = "plan_changes"
    __table_args__ = (PrimaryKeyConstraint("account_id", "originator_version"),)

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    originator_version: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    plan_id: Mapped[int] = mapped_column(BigInteger)
    interest_rate: Mapped[Decimal] = mapped_column(RATE)
    lock_in_days: Mapped[int] = mapped_column(Integer)


# The ids of the users-events messages applied (written with their effect by the recorder).
processed_messages = processed_messages_table(AccountingBase.metadata)


def _library_table(name: str, *, notification_id: bool) -> Table:
    # The `eventsourcing` library's layout (its PostgreSQL recorders' CREATE TABLE).
    columns = [
        Column("originator_id", Uuid, nullable=False),
        Column("originator_version", BigInteger, nullable=False),
        Column("topic", Text),
        Column("state", LargeBinary),
    ]
    if notification_id:
        columns.append(Column("notification_id", BigInteger, nullable=False))
    table = Table(
        name,
        AccountingBase.metadata,
        *columns,
        PrimaryKeyConstraint("originator_id", "originator_version", name=f"{name}_pkey"),
    )
    if notification_id:
        Index(f"{name}_notification_id_idx", table.c.notification_id, unique=True)
    return table


events_table = _library_table("accounting_events", notification_id=True)
snapshots_table = _library_table("accounting_snapshots", notification_id=False)
