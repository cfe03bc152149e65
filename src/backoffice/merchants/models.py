"""Merchant activities and the rollups the analytics answer from (kept in the import's transaction)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

# The quarantine and run audit live with the engine; imported here so one import registers all.
from backoffice.core.db import Base
from backoffice.ingest.models import ImportReject, ImportRun

__all__ = [
    "ImportReject",
    "ImportRun",
    "MerchantActivity",
    "MerchantKycFunnel",
    "MerchantMonthActive",
    "MerchantMonthlyCount",
    "MerchantProductAdoption",
    "MerchantProductStats",
    "MerchantTop",
    "MerchantTotal",
    "MerchantUsage",
]


class MerchantActivity(Base):
    """One activity event as imported (first occurrence of its event id)."""

    __tablename__ = "merchant_activities"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(Text)
    event_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    product: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    merchant_tier: Mapped[str | None] = mapped_column(Text)
    quality_flags: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # The run that loaded it (`import_runs.id`): a late file's version of the event takes its
    # place when that run's file is dated after it (migration 0013_ingest_order).
    ingest_run: Mapped[int | None] = mapped_column(
        BigInteger,
        server_default=text("(NULLIF(current_setting('backoffice.ingest_run', true), ''))::bigint"),
    )


class MerchantMonthActive(Base):
    """The merchant's SUCCESS events with a timestamp in this UTC month (active while > 0)."""

    __tablename__ = "merchant_month_actives"

    merchant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    successes: Mapped[int] = mapped_column(BigInteger, server_default="0")


class MerchantUsage(Base):
    """A merchant's events of a product, or SUCCESS events of a KYC stage (`item`)."""

    __tablename__ = "merchant_usage"

    merchant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    item: Mapped[str] = mapped_column(Text, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)


class MerchantMonthlyCount(Base):
    """Distinct active merchants per month (the size of each month's set)."""

    __tablename__ = "merchant_monthly_counts"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    merchants: Mapped[int] = mapped_column(Integer)


class MerchantProductAdoption(Base):
    """Distinct merchants per product."""

    __tablename__ = "merchant_product_adoption"

    product: Mapped[str] = mapped_column(Text, primary_key=True)
    merchants: Mapped[int] = mapped_column(Integer)


class MerchantKycFunnel(Base):
    """Distinct merchants per KYC stage."""

    __tablename__ = "merchant_kyc_funnel"

    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    merchants: Mapped[int] = mapped_column(Integer)


class MerchantProductStats(Base):
    """Event counts per status and amount sums per product."""

    __tablename__ = "merchant_product_stats"

    product: Mapped[str] = mapped_column(Text, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    success_count: Mapped[int] = mapped_column(BigInteger)
    failed_count: Mapped[int] = mapped_column(BigInteger)
    pending_count: Mapped[int] = mapped_column(BigInteger)
    success_amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    total_amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))


class MerchantTotal(Base):
    """Per merchant: SUCCESS volume and event counts (products and stages: `MerchantUsage`)."""

    __tablename__ = "merchant_totals"

    merchant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    success_volume: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    events: Mapped[int] = mapped_column(BigInteger)
    success_count: Mapped[int] = mapped_column(BigInteger)


class MerchantTop(Base):
    """The one top merchant by SUCCESS volume (ties: the smaller id), kept at each import.

    While volumes only grow, the top is the better of the previous top and the best merchant
    a group touched; a group that took volume away (a late file's events replacing others)
    reads it again from `merchant_totals`.
    """

    __tablename__ = "merchant_top"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    merchant_id: Mapped[str] = mapped_column(Text)
    success_volume: Mapped[Decimal] = mapped_column(Numeric(20, 2))
