"""Tables of the users service's own database (`savings_users`).

Customers, the keys their signups were made with, and the outbox.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, Text, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backoffice.core.db import NAMING_CONVENTION, TimestampMixin
from backoffice.core.messaging import outbox_table


class UsersBase(DeclarativeBase):
    """Declarative base of the users service's database (not `core.db.Base`: another database)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(TimestampMixin, UsersBase):
    """A customer of the savings scheme.

    Attributes:
        id: chosen in Python (uuid4), so it is known before the row is written.
        email: normalised (`rules.normalise_email`), unique.
        full_name: as the customer gave it, stripped.
        password_hash: argon2id.
        token_version: the `ver` its tokens carry; a password change raises it, and every
            token issued before stops working.
    """

    __tablename__ = "customers"
    # created_at / updated_at come back with the INSERT or UPDATE (RETURNING), not lazily later.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    email: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    full_name: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    token_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )


class SignupKey(UsersBase):
    """The `Idempotency-Key` a signup was made with: a retry with it returns that customer.

    Attributes:
        key: the client's key (unique: signups are anonymous, so keys are not per customer).
        customer_id: the customer the signup made; the key goes with them.
    """

    __tablename__ = "signup_keys"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Events of this service, written in the same transaction as the change they announce.
OUTBOX = outbox_table(UsersBase.metadata)
