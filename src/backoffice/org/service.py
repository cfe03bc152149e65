"""The org directory's public service: other contexts call these, never the tables.

Every function takes the caller's `AsyncSession`, flushes and never commits. Inputs are the
`schemas` models or plain mappings of the same fields (validated the same way). Errors are
domain errors (`NotFound` 404, `Conflict` 409, `ValidationFailed` 422).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, contains, in_range, paginate
from backoffice.org.countries import country_exists
from backoffice.org.models import Company, Employee, HierarchyLevel, Team
from backoffice.org.schemas import (
    CompanyCreate,
    CompanyUpdate,
    EmployeeCreate,
    EmployeeUpdate,
    LevelCreate,
    LevelUpdate,
    TeamCreate,
    TeamUpdate,
)

S = TypeVar("S", bound=BaseModel)


def _coerce(schema: type[S], data: S | Mapping[str, Any]) -> S:
    return data if isinstance(data, schema) else schema.model_validate(data)


def _changes(data: BaseModel) -> dict[str, Any]:
    return data.model_dump(exclude_unset=True)


async def _save(session: AsyncSession, row: Any) -> None:
    """Flush an update and reload `updated_at`, which the database set."""
    await session.flush()
    await session.refresh(row, ["updated_at"])


async def _flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush inside a savepoint so a violated constraint is a `Conflict`, not a dead session."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


# --- companies -------------------------------------------------------------------------------


async def get_company(session: AsyncSession, company_id: int) -> Company:
    """The company `company_id`, or `NotFound`."""
    company = await session.get(Company, company_id)
    if company is None:
        raise NotFound(f"Company {company_id} not found")
    return company


COMPANY_SORT = {"id": Company.id, "name": Company.name}


async def list_companies(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    name: str | None = None,
) -> tuple[list[Company], PageInfo]:
    """One page of companies, filtered by part of the name."""
    statement = select(Company)
    if name:
        statement = statement.where(contains(Company.name, name))
    return await paginate(session, statement, page, [*order_by, Company.id.asc()])


async def _ensure_company_name_free(
    session: AsyncSession, name: str, except_id: int | None = None
) -> None:
    found = await session.scalar(select(Company.id).where(Company.name == name))
    if found is not None and found != except_id:
        raise Conflict(f"A company named {name!r} already exists")


async def create_company(session: AsyncSession, data: CompanyCreate | Mapping[str, Any]) -> Company:
    """Create a company; a taken name is a `Conflict`."""
    data = _coerce(CompanyCreate, data)
    await _ensure_company_name_free(session, data.name)
    company = Company(name=data.name)
    session.add(company)
    await session.flush()
    return company


async def update_company(
    session: AsyncSession, company_id: int, data: CompanyUpdate | Mapping[str, Any]
) -> Company:
    """Rename a company."""
    changes = _changes(_coerce(CompanyUpdate, data))
    company = await get_company(session, company_id)
    if changes.get("name") is not None:
        await _ensure_company_name_free(session, changes["name"], company.id)
        company.name = changes["name"]
    await _save(session, company)
    return company


async def delete_company(session: AsyncSession, company_id: int) -> None:
    """Delete a company with its teams and levels; refused (409) while it has employees."""
    company = await get_company(session, company_id)
    if await session.scalar(select(Employee.id).where(Employee.company_id == company_id).limit(1)):
        raise Conflict(f"Company {company_id} still has employees; move or delete them first")
    await session.delete(company)
    await _flush_or_conflict(session, f"Company {company_id} is still referenced")


# --- teams -----------------------------------------------------------------------------------


async def get_team(session: AsyncSession, team_id: int) -> Team:
    """The team `team_id`, or `NotFound`."""
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} not found")
    return team


TEAM_SORT = {"id": Team.id, "name": Team.name, "company_id": Team.company_id}


async def list_teams(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    company_id: int | None = None,
    name: str | None = None,
) -> tuple[list[Team], PageInfo]:
    """One page of teams, filtered by company and part of the name."""
    statement = select(Team)
    if company_id is not None:
        statement = statement.where(Team.company_id == company_id)
    if name:
        statement = statement.where(contains(Team.name, name))
    return await paginate(session, statement, page, [*order_by, Team.id.asc()])


async def _ensure_team_name_free(
    session: AsyncSession, company_id: int, name: str, except_id: int | None = None
) -> None:
    found = await session.scalar(
        select(Team.id).where(Team.company_id == company_id, Team.name == name)
    )
    if found is not None and found != except_id:
        raise Conflict(f"Company {company_id} already has a team named {name!r}")


async def _require_company(session: AsyncSession, company_id: int) -> Company:
    company = await session.get(Company, company_id)
    if company is None:
        raise ValidationFailed.field("company_id", f"Company {company_id} does not exist")
    return company


async def create_team(session: AsyncSession, data: TeamCreate | Mapping[str, Any]) -> Team:
    """Create a team in an existing company; a name taken in that company is a `Conflict`."""
    data = _coerce(TeamCreate, data)
    await _require_company(session, data.company_id)
    await _ensure_team_name_free(session, data.company_id, data.name)
    team = Team(company_id=data.company_id, name=data.name, is_company_wide=data.is_company_wide)
    session.add(team)
    await session.flush()
    return team


async def update_team(
    session: AsyncSession, team_id: int, data: TeamUpdate | Mapping[str, Any]
) -> Team:
    """Rename a team or change whether it spans the whole company."""
    changes = _changes(_coerce(TeamUpdate, data))
    team = await get_team(session, team_id)
    if changes.get("name") is not None:
        await _ensure_team_name_free(session, team.company_id, changes["name"], team.id)
        team.name = changes["name"]
    if changes.get("is_company_wide") is not None:
        team.is_company_wide = changes["is_company_wide"]
    await _save(session, team)
    return team


async def delete_team(session: AsyncSession, team_id: int) -> None:
    """Delete a team and its levels; refused (409) while employees are on it."""
    team = await get_team(session, team_id)
    if await session.scalar(select(Employee.id).where(Employee.team_id == team_id).limit(1)):
        raise Conflict(f"Team {team_id} still has employees; move them first")
    await session.delete(team)
    await _flush_or_conflict(session, f"Team {team_id} is still referenced")


# --- hierarchy levels ------------------------------------------------------------------------


async def get_level(session: AsyncSession, level_id: int) -> HierarchyLevel:
    """The hierarchy level `level_id`, or `NotFound`."""
    level = await session.get(HierarchyLevel, level_id)
    if level is None:
        raise NotFound(f"Hierarchy level {level_id} not found")
    return level


LEVEL_SORT = {
    "id": HierarchyLevel.id,
    "level_number": HierarchyLevel.level_number,
    "company_id": HierarchyLevel.company_id,
}


async def list_levels(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    company_id: int | None = None,
    team_id: int | None = None,
) -> tuple[list[HierarchyLevel], PageInfo]:
    """One page of hierarchy levels, filtered by company and team."""
    statement = select(HierarchyLevel)
    if company_id is not None:
        statement = statement.where(HierarchyLevel.company_id == company_id)
    if team_id is not None:
        statement = statement.where(HierarchyLevel.team_id == team_id)
    return await paginate(session, statement, page, [*order_by, HierarchyLevel.id.asc()])


async def _ensure_level_number_free(
    session: AsyncSession,
    company_id: int,
    team_id: int | None,
    number: int,
    except_id: int | None = None,
) -> None:
    team_match = (
        HierarchyLevel.team_id.is_(None) if team_id is None else (HierarchyLevel.team_id == team_id)
    )
    found = await session.scalar(
        select(HierarchyLevel.id).where(
            HierarchyLevel.company_id == company_id,
            team_match,
            HierarchyLevel.level_number == number,
        )
    )
    if found is not None and found != except_id:
        where = f"team {team_id}" if team_id is not None else f"company {company_id}"
        raise Conflict(f"Level number {number} already exists for {where}")


async def create_level(
    session: AsyncSession, data: LevelCreate | Mapping[str, Any]
) -> HierarchyLevel:
    """Create a level of a company, or of one of its teams when `team_id` is given."""
    data = _coerce(LevelCreate, data)
    await _require_company(session, data.company_id)
    if data.team_id is not None:
        await _require_team_of(session, data.team_id, data.company_id)
    await _ensure_level_number_free(session, data.company_id, data.team_id, data.level_number)
    level = HierarchyLevel(
        company_id=data.company_id,
        team_id=data.team_id,
        level_number=data.level_number,
        level_name=data.level_name,
    )
    session.add(level)
    await session.flush()
    return level


async def update_level(
    session: AsyncSession, level_id: int, data: LevelUpdate | Mapping[str, Any]
) -> HierarchyLevel:
    """Rename or renumber a level."""
    changes = _changes(_coerce(LevelUpdate, data))
    level = await get_level(session, level_id)
    if changes.get("level_number") is not None:
        await _ensure_level_number_free(
            session, level.company_id, level.team_id, changes["level_number"], level.id
        )
        level.level_number = changes["level_number"]
    if changes.get("level_name") is not None:
        level.level_name = changes["level_name"]
    await _save(session, level)
    return level


async def delete_level(session: AsyncSession, level_id: int) -> None:
    """Delete a level; refused (409) while employees hold it."""
    level = await get_level(session, level_id)
    if await session.scalar(select(Employee.id).where(Employee.level_id == level_id).limit(1)):
        raise Conflict(f"Hierarchy level {level_id} is held by employees; move them first")
    await session.delete(level)
    await _flush_or_conflict(session, f"Hierarchy level {level_id} is still referenced")


# --- employees -------------------------------------------------------------------------------


async def get_employee(session: AsyncSession, employee_id: int) -> Employee:
    """The employee `employee_id`, or `NotFound`."""
    employee = await session.get(Employee, employee_id)
    if employee is None:
        raise NotFound(f"Employee {employee_id} not found")
    return employee


EMPLOYEE_SORT = {
    "id": Employee.id,
    "full_name": Employee.full_name,
    "job_title": Employee.job_title,
    "country_iso": Employee.country_iso,
    "salary": Employee.salary,
    "created_at": Employee.created_at,
}


async def list_employees(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    country_iso: str | None = None,
    job_title: str | None = None,
    name: str | None = None,
    min_salary: Decimal | None = None,
    max_salary: Decimal | None = None,
    company_id: int | None = None,
    team_id: int | None = None,
    is_active: bool | None = None,
) -> tuple[list[Employee], PageInfo]:
    """One page of employees; the filters combine with AND."""
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
    return await paginate(session, statement, page, [*order_by, Employee.id.asc()])


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


async def _require_team_of(session: AsyncSession, team_id: int, company_id: int | None) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise ValidationFailed.field("team_id", f"Team {team_id} does not exist")
    if company_id is None:
        raise ValidationFailed.field("company_id", "A team needs its company_id")
    if team.company_id != company_id:
        raise ValidationFailed.field(
            "team_id", f"Team {team_id} belongs to company {team.company_id}, not {company_id}"
        )
    return team


async def _check_placement(
    session: AsyncSession,
    company_id: int | None,
    team_id: int | None,
    level_id: int | None,
) -> None:
    """A team and a level must belong to the employee's company (and a team level to the team)."""
    if company_id is not None:
        await _require_company(session, company_id)
    if team_id is not None:
        await _require_team_of(session, team_id, company_id)
    if level_id is None:
        return
    level = await session.get(HierarchyLevel, level_id)
    if level is None:
        raise ValidationFailed.field("level_id", f"Hierarchy level {level_id} does not exist")
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
        raise ValidationFailed.field(
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
        raise ValidationFailed.field("account_id", f"Account {account_id} does not exist")
    linked = await session.scalar(select(Employee.id).where(Employee.account_id == account_id))
    if linked is not None and linked != except_id:
        raise Conflict(f"Account {account_id} is already linked to employee {linked}")


async def create_employee(
    session: AsyncSession, data: EmployeeCreate | Mapping[str, Any]
) -> Employee:
    """Create an employee; an unknown country or a misplaced team/level is a 422."""
    data = _coerce(EmployeeCreate, data)
    await _check_country(session, data.country_iso)
    await _check_placement(session, data.company_id, data.team_id, data.level_id)
    await _check_email_free(session, data.company_id, data.email, None)
    if data.account_id is not None:
        await _check_account_free(session, data.account_id, None)
    employee = Employee(**data.model_dump())
    session.add(employee)
    await session.flush()
    return employee


async def update_employee(
    session: AsyncSession, employee_id: int, data: EmployeeUpdate | Mapping[str, Any]
) -> Employee:
    """Change some fields of an employee; the result is validated as a whole."""
    changes = _changes(_coerce(EmployeeUpdate, data))
    employee = await get_employee(session, employee_id)
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
    await _save(session, employee)
    return employee


async def delete_employee(session: AsyncSession, employee_id: int) -> None:
    """Delete an employee; refused (409) while other records (e.g. expenses) refer to them."""
    employee = await get_employee(session, employee_id)
    await session.delete(employee)
    await _flush_or_conflict(
        session, f"Employee {employee_id} is referenced by other records; deactivate instead"
    )


async def link_account(session: AsyncSession, employee_id: int, account_id: int | None) -> Employee:
    """Link the login `account_id` to an employee (None unlinks); one employee per account."""
    employee = await get_employee(session, employee_id)
    if account_id is not None:
        await _check_account_free(session, account_id, employee.id)
    employee.account_id = account_id
    await _save(session, employee)
    return employee
