"""Employees of the directory: the people on the payroll and in the approval hierarchy.

Same rules as `service`: the caller's `AsyncSession`, flush and never commit, domain errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account
from backoffice.core.db import flush_or
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, contains, in_range, paginate
from backoffice.org.countries import country_exists
from backoffice.org.models import Employee, HierarchyLevel
from backoffice.org.schemas import EmployeeCreate, EmployeeUpdate
from backoffice.org.service import (
    add,
    changes_of,
    coerce,
    get_row,
    require_company,
    require_team_of,
    save,
)


async def get_employee(session: AsyncSession, employee_id: int, *, lock: bool = False) -> Employee:
    """The employee `employee_id`, or `NotFound` (`lock`: see `service.get_row`)."""
    return await get_row(session, Employee, employee_id, "Employee", lock=lock)


EMPLOYEE_SORT = {
    "id": Employee.id,
    "full_name": Employee.full_name,
    "job_title": Employee.job_title,
    "country_iso": Employee.country_iso,
    "salary": Employee.salary,
    "created_at": Employee.created_at,
}


class EmployeeFilters(TypedDict, total=False):
    """What a list of employees may be filtered by (each optional; they combine with AND)."""

    country_iso: str | None
    job_title: str | None  # exact
    name: str | None  # part of the full name, any case
    min_salary: Decimal | None
    max_salary: Decimal | None
    company_id: int | None
    team_id: int | None
    is_active: bool | None


def _filtered(
    *,
    country_iso: str | None = None,
    job_title: str | None = None,
    name: str | None = None,
    min_salary: Decimal | None = None,
    max_salary: Decimal | None = None,
    company_id: int | None = None,
    team_id: int | None = None,
    is_active: bool | None = None,
) -> Select[Employee]:
    """The employees matching every filter given (`EmployeeFilters`)."""
    if min_salary is not None and max_salary is not None and min_salary > max_salary:
        raise ValidationFailed.field("min_salary", "min_salary must not exceed max_salary")
    statement = select(Employee).where(*in_range(Employee.salary, min_salary, max_salary))
    if country_iso:
        statement = statement.where(Employee.country_iso == country_iso.upper())
    if job_title:
        statement = statement.where(Employee.job_title == job_title.strip())
    if name:
        statement = statement.where(contains(Employee.full_name, name))
    for column, value in (
        (Employee.company_id, company_id),
        (Employee.team_id, team_id),
        (Employee.is_active, is_active),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return statement


async def list_employees(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    count_at_most: int | None = None,
    **filters: Unpack[EmployeeFilters],
) -> tuple[list[Employee], PageInfo]:
    """One page of employees; the filters combine with AND.

    `count_at_most`: the total is counted that far only (`core.pagination.paginate_rows`).
    """
    statement = _filtered(**filters)
    order = [*order_by, Employee.id.asc()]
    return await paginate(session, statement, page, order, count_at_most=count_at_most)


# The most rows one export reads: a download stays a few megabytes and a second or so.
EXPORT_LIMIT = 10_000


async def export_employees(
    session: AsyncSession,
    order_by: Sequence[ColumnElement[Any]],
    *,
    limit: int = EXPORT_LIMIT,
    **filters: Unpack[EmployeeFilters],
) -> list[Employee]:
    """The first `limit` employees matching the filters, in order, with no count of the rest.

    What a CSV export reads: the same filters and order as `list_employees`, one statement
    that stops after `limit` rows (an index in that order serves it), never a total.
    """
    if not 1 <= limit <= EXPORT_LIMIT:
        raise ValidationFailed.field("limit", f"limit must be 1 to {EXPORT_LIMIT}")
    statement = _filtered(**filters).order_by(*order_by, Employee.id.asc()).limit(limit)
    return list(await session.scalars(statement))


async def get_employee_by_account(session: AsyncSession, account_id: int) -> Employee | None:
    """The employee the login `account_id` acts for, or None when no employee is linked."""
    return await session.scalar(select(Employee).where(Employee.account_id == account_id))


async def existing_names(
    session: AsyncSession, pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the (full name, country) `pairs` some employee already has."""
    rows = await session.execute(
        select(Employee.full_name, Employee.country_iso).where(
            tuple_(Employee.full_name, Employee.country_iso).in_(pairs)
        )
    )
    return {(name, iso) for name, iso in rows}


async def _check_placement(
    session: AsyncSession,
    company_id: int | None,
    team_id: int | None,
    level_id: int | None,
) -> None:
    """A team and a level must belong to the employee's company (and a team level to the team)."""
    if company_id is not None:
        await require_company(session, company_id)
    if team_id is not None:
        await require_team_of(session, team_id, company_id)
    if level_id is None:
        return
    level = await session.get(HierarchyLevel, level_id)
    if level is None:
        raise NotFound.field("level_id", f"Hierarchy level {level_id} does not exist")
    if company_id is None:
        raise ValidationFailed.field("company_id", "A hierarchy level needs its company_id")
    if level.company_id != company_id:
        raise ValidationFailed.field(
            "level_id",
            f"Hierarchy level {level_id} belongs to company {level.company_id}, not {company_id}",
        )
    if level.team_id is not None and level.team_id != team_id:
        raise ValidationFailed.field(
            "level_id", f"Hierarchy level {level_id} is a level of team {level.team_id} only"
        )


async def _check_country(session: AsyncSession, iso_code: str) -> None:
    if not await country_exists(session, iso_code):
        raise NotFound.field(
            "country_iso",
            f"Unknown country {iso_code!r}: add it with POST /api/v1/countries first",
        )


async def _check_email_free(
    session: AsyncSession, company_id: int | None, email: str | None, except_id: int | None
) -> None:
    if company_id is None or email is None:
        return
    found = await session.scalar(
        select(Employee.id).where(Employee.company_id == company_id, Employee.email == email)
    )
    if found is not None and found != except_id:
        raise Conflict(f"Company {company_id} already has an employee with email {email!r}")


async def _check_account_free(
    session: AsyncSession, account_id: int, except_id: int | None
) -> None:
    if await session.get(Account, account_id) is None:
        raise NotFound.field("account_id", f"Account {account_id} does not exist")
    linked = await session.scalar(select(Employee.id).where(Employee.account_id == account_id))
    if linked is not None and linked != except_id:
        raise Conflict(f"Account {account_id} is already linked to employee {linked}")


async def create_employee(
    session: AsyncSession, data: EmployeeCreate | Mapping[str, Any]
) -> Employee:
    """Create an employee; an unknown country or a misplaced team/level is a 422."""
    data = coerce(EmployeeCreate, data)
    await _check_country(session, data.country_iso)
    await _check_placement(session, data.company_id, data.team_id, data.level_id)
    await _check_email_free(session, data.company_id, data.email, None)
    if data.account_id is not None:
        await _check_account_free(session, data.account_id, None)
    employee = Employee(**data.model_dump())
    await add(session, employee, "The email or the account is already an employee's")
    return employee


async def update_employee(
    session: AsyncSession, employee_id: int, data: EmployeeUpdate | Mapping[str, Any]
) -> Employee:
    """Change some fields of an employee; the result is validated as a whole."""
    changes = changes_of(coerce(EmployeeUpdate, data))
    employee = await get_employee(session, employee_id, lock=True)
    merged = {
        "company_id": employee.company_id,
        "team_id": employee.team_id,
        "level_id": employee.level_id,
        "email": employee.email,
    } | changes
    if "country_iso" in changes and changes["country_iso"] != employee.country_iso:
        await _check_country(session, changes["country_iso"])
    if changes.keys() & {"company_id", "team_id", "level_id"}:
        await _check_placement(session, merged["company_id"], merged["team_id"], merged["level_id"])
    if changes.keys() & {"company_id", "email"}:
        await _check_email_free(session, merged["company_id"], merged["email"], employee.id)
    for name, value in changes.items():
        setattr(employee, name, value)
    await save(session, employee, "The email is already another employee's in that company")
    return employee


async def delete_employee(session: AsyncSession, employee_id: int) -> None:
    """Delete an employee; refused (409) while other records (e.g. expenses) refer to them."""
    employee = await get_employee(session, employee_id, lock=True)
    await session.delete(employee)
    await flush_or(
        session,
        Conflict(f"Employee {employee_id} is referenced by other records; deactivate instead"),
    )


async def link_account(session: AsyncSession, employee_id: int, account_id: int | None) -> Employee:
    """Link the login `account_id` to an employee (None unlinks); one employee per account."""
    employee = await get_employee(session, employee_id, lock=True)
    if account_id is not None:
        await _check_account_free(session, account_id, employee.id)
    employee.account_id = account_id
    await save(session, employee, f"Account {account_id} is already another employee's")
    return employee
