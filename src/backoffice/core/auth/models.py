"""Accounts that can log in, and the audit trail of what operators did to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base, TimestampMixin


class Account(TimestampMixin, Base):
    """A login with a role; `auth_version` changes whenever the password or role does."""

    __mapper_args__ = {"eager_defaults": True}  # timestamps come back with RETURNING
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("role IN ('admin', 'manager', 'staff')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    auth_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class AccountEvent(Base):
    """One change an operator made to an account, written in the same transaction.

    `username` is the account's name at the time (the trail stays when it is deleted); `actor`
    is who did it: an admin's username (`actor_account_id` set), or `cli:<os user>` for the
    `backoffice accounts` command. `details` holds the before and after of a role change.
    """

    __mapper_args__ = {"eager_defaults": True}  # the time comes back with RETURNING
    __tablename__ = "account_events"
    __table_args__ = (
        Index("ix_account_events_account_id_id", "account_id", "id"),
        Index("ix_account_events_actor_account_id", "actor_account_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Plain ids, no foreign keys: the trail outlives the accounts it names (ids are never reused).
    account_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(32))
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
