"""The accounting database's tables (its own metadata: this is not the main database).

`plans` is written by the service; `accounts`, `credits` and `processed_messages` only by the
event store's recorder, in the events' transaction (`store.py`); the library's own tables are
declared here so that autogenerate sees the whole schema, but `accounting_0001` creates them
with the library's exact DDL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
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


class Plan(AccountingBase):
    """A billing plan: how credits are split while it is in force."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("kind IN ('flat-amount', 'percentage')", name="kind"),
        CheckConstraint(
            "(kind = 'flat-amount' AND value > 0) OR (kind = 'percentage' AND value BETWEEN 0 AND 100)",
            name="value",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    value: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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


class CreditView(AccountingBase):
    """One credit with the running balances after it (projection of the `Credited` events).

    The balance at an instant is the last row at or before it: one descent of
    `ix_credits_account_id` (account, time, version), as is a date range.
    """

    __tablename__ = "credits"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_credits_account_id", "account_id", "at", "originator_version"),
    )

    credit_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    main: Mapped[Decimal] = mapped_column(MONEY)
    savings: Mapped[Decimal] = mapped_column(MONEY)
    main_balance: Mapped[Decimal] = mapped_column(MONEY)
    savings_balance: Mapped[Decimal] = mapped_column(MONEY)
    originator_version: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(Text)


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
