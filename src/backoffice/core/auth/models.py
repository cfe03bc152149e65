"""Accounts that can log in."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base, TimestampMixin


class Account(TimestampMixin, Base):
    """A login with a role; `auth_version` changes whenever the password or role does."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint("role IN ('admin', 'manager', 'staff')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    auth_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
