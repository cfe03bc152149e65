"""Countries and their versioned tax policies."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base, TimestampMixin


class Country(TimestampMixin, Base):
    """A country employees can be paid in (ISO 3166-1 alpha-2, ISO 4217 currency)."""

    __tablename__ = "countries"

    iso_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
