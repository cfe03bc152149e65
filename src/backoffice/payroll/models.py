"""Countries' versioned tax policies and the salary aggregates kept by triggers.

The countries themselves and the employees belong to the org directory.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.core.db import Base
from backoffice.org.models import Country


class TaxPolicyVersion(Base):
    """One version of a country's tax policy; rows are only ever added, never changed.

    The version in force on a date is the one with the latest `effective_from` on or before
    it (the highest `version` among equal dates).
    """

    __tablename__ = "tax_policy_versions"
    __table_args__ = (
        UniqueConstraint("country_iso", "version"),
        CheckConstraint("flat_rate IS NULL OR flat_rate BETWEEN 0 AND 100", name="flat_rate"),
        CheckConstraint(
            "standard_deduction IS NULL OR standard_deduction >= 0", name="standard_deduction"
        ),
        Index("ix_tax_policy_versions_in_force", "country_iso", "effective_from", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country_iso: Mapped[str] = mapped_column(
        String(2), ForeignKey(Country.iso_code, onupdate="CASCADE", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    flat_rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    standard_deduction: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    slabs: Mapped[list[TaxSlab]] = relationship(
        lazy="raise", order_by="TaxSlab.position", cascade="all, delete-orphan"
    )


class TaxSlab(Base):
    """A progressive band of a policy version: `rate` percent of income in [lower, upper)."""

    __tablename__ = "tax_slabs"
    __table_args__ = (
        CheckConstraint("rate BETWEEN 0 AND 100", name="rate"),
        CheckConstraint("lower_bound >= 0", name="lower_bound"),
        CheckConstraint("upper_bound IS NULL OR upper_bound > lower_bound", name="upper_bound"),
    )

    version_id: Mapped[int] = mapped_column(
        ForeignKey("tax_policy_versions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    lower_bound: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    upper_bound: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))


class _SalaryTotals:
    """Head count and salary sum of a group, kept by triggers on `employees`."""

    employee_count: Mapped[int] = mapped_column(BigInteger)
    salary_total: Mapped[Decimal] = mapped_column(Numeric(20, 2))


class SalaryByCountry(_SalaryTotals, Base):
    """Salary totals per country (maintained by the `employees` triggers, never by hand)."""

    __tablename__ = "salary_stats_by_country"

    country_iso: Mapped[str] = mapped_column(String(2), primary_key=True)


class SalaryByJobTitle(_SalaryTotals, Base):
    """Salary totals per job title (maintained by the `employees` triggers)."""

    __tablename__ = "salary_stats_by_job_title"

    job_title: Mapped[str] = mapped_column(String(200), primary_key=True)


class SalaryByCountryJobTitle(_SalaryTotals, Base):
    """Salary totals per (country, job title) (maintained by the `employees` triggers)."""

    __tablename__ = "salary_stats_by_country_job_title"

    country_iso: Mapped[str] = mapped_column(String(2), primary_key=True)
    job_title: Mapped[str] = mapped_column(String(200), primary_key=True)
