"""Salary figures of the directory that payroll composes into its own statements.

An employee's pay (for a breakdown) and the lowest and highest salary of a group (for the
analytics), each served by an index on `employees`. Statements to compose, and the one
query that reads a range on the caller's `AsyncSession`.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, ColumnExpressionArgument, ScalarSelect, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.org.models import Country, Employee


def employee_pay(employee_id: int | ColumnElement[int]) -> Select[int, Decimal, str, str]:
    """(id, annual salary, country, currency) of one employee, as a statement to compose.

    Payroll joins it with its policy tables so a breakdown is one round trip to the database;
    `employee_id` may be a bind parameter, so the composed statement is built once.
    """
    return (
        select(Employee.id, Employee.salary, Employee.country_iso, Country.currency)
        .join(Country, Country.iso_code == Employee.country_iso)
        .where(Employee.id == employee_id)
    )


def _group_filter(
    country_iso: ColumnExpressionArgument[str] | str | None,
    job_title: ColumnExpressionArgument[str] | str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if country_iso is not None:
        conditions.append(Employee.country_iso == country_iso)
    if job_title is not None:
        conditions.append(Employee.job_title == job_title)
    return conditions


async def salary_range(
    session: AsyncSession, *, country_iso: str | None = None, job_title: str | None = None
) -> tuple[Decimal | None, Decimal | None]:
    """Lowest and highest salary in a group: two index probes, no scan."""
    row = (
        await session.execute(
            select(func.min(Employee.salary), func.max(Employee.salary)).where(
                *_group_filter(country_iso, job_title)
            )
        )
    ).one()
    return row[0], row[1]


def salary_range_columns(
    *,
    country_iso: ColumnExpressionArgument[str] | None = None,
    job_title: ColumnExpressionArgument[str] | None = None,
) -> tuple[ScalarSelect[Decimal], ScalarSelect[Decimal]]:
    """Min and max salary of the group named by the enclosing query's columns.

    Correlated scalar subqueries, each one probe of a (group, salary) index per row.
    """
    conditions = _group_filter(country_iso, job_title)
    low = select(func.min(Employee.salary)).where(*conditions).scalar_subquery()
    high = select(func.max(Employee.salary)).where(*conditions).scalar_subquery()
    return low.label("min_salary"), high.label("max_salary")  # type: ignore[return-value]
