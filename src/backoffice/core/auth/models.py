"""Accounts that can log in, and the audit trail of what operators did to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
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


class WebSession(Base):
    """A signed-in browser of the web console (backoffice.console), kept on the server.

    The cookie holds a random token; only its SHA-256 is stored. Exactly one kind: a platform
    account at the `auth_version` it signed in with, or a savings customer with their token.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        CheckConstraint(
            "(account_id IS NOT NULL AND auth_version IS NOT NULL AND customer_id IS NULL)"
            " OR (account_id IS NULL AND customer_id IS NOT NULL AND customer_token IS NOT NULL)",
            name="one_kind",
        ),
        Index("ix_web_sessions_account_id", "account_id"),
        Index("ix_web_sessions_expires_at", "expires_at"),
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    auth_version: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_token: Mapped[str | None] = mapped_column(Text)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
