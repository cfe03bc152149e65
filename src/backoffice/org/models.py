"""One employee directory for payroll and expenses.

Companies, teams, hierarchy levels, employees and the countries they are paid in.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.core.db import Base, TimestampMixin


class Company(TimestampMixin, Base):
    """A company; everything in expenses is isolated per company."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Team(TimestampMixin, Base):
    """A team of a company; a company-wide team spans every other team."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    is_company_wide: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class HierarchyLevel(TimestampMixin, Base):
    """A rung of a company's (and optionally a team's) ladder; level 1 is the most senior."""

    __tablename__ = "hierarchy_levels"
    __table_args__ = (
        UniqueConstraint("company_id", "team_id", "level_number"),
        CheckConstraint("level_number BETWEEN 1 AND 10", name="level_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    level_number: Mapped[int] = mapped_column(SmallInteger)
    level_name: Mapped[str] = mapped_column(String(100))


class Country(TimestampMixin, Base):
    """A country employees can be paid in (ISO 3166-1 alpha-2, ISO 4217 currency).

    Part of the directory (`employees.country_iso` refers to it); payroll keeps each country's
    tax policies in its own tables.
    """

    __tablename__ = "countries"
    __table_args__ = (
        CheckConstraint("iso_code ~ '^[A-Z]{2}$'", name="iso_code"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    )

    iso_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))


class Employee(TimestampMixin, Base):
    """A person on the payroll, and (when placed in a company) in the approval hierarchy.

    Payroll needs name, job title, country and annual salary; expenses also need company,
    team, level and email. `account_id` links the login the employee acts through.
    """

    __tablename__ = "employees"
    __table_args__ = (
        CheckConstraint("salary > 0", name="salary_positive"),
        UniqueConstraint("company_id", "email"),
        Index("ix_employees_company_team", "company_id", "team_id"),
        # Salary min/max per group read from these (see payroll analytics); the first one
        # also serves the country foreign key.
        Index("ix_employees_country_salary", "country_iso", "salary"),
        Index("ix_employees_job_title_salary", "job_title", "salary"),
        Index("ix_employees_country_job_title_salary", "country_iso", "job_title", "salary"),
        # The name search, `full_name ILIKE '%text%'` (`core.pagination.contains`): trigrams
        # answer a pattern with a leading wildcard, which no B-tree can (migration 0015).
        Index(
            "ix_employees_full_name_trgm",
            "full_name",
            postgresql_using="gin",
            postgresql_ops={"full_name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(200))
    country_iso: Mapped[str] = mapped_column(
        String(2), ForeignKey("countries.iso_code", onupdate="CASCADE")
    )
    salary: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    level_id: Mapped[int | None] = mapped_column(
        ForeignKey("hierarchy_levels.id", ondelete="RESTRICT"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(254))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), unique=True
    )
