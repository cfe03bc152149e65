"""The org directory's public service: other contexts call these, never the tables.

Every function takes the caller's `AsyncSession`, flushes and never commits. Inputs are the
`schemas` models or plain mappings of the same fields (validated the same way). Errors are
domain errors (`NotFound` 404, `Conflict` 409, `ValidationFailed` 422).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import flush_or
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, contains, paginate
from backoffice.org.models import Company, Employee, HierarchyLevel, Team
from backoffice.org.schemas import (
    CompanyCreate,
    CompanyUpdate,
    LevelCreate,
    LevelUpdate,
    TeamCreate,
    TeamUpdate,
)

S = TypeVar("S", bound=BaseModel)
R = TypeVar("R")


def coerce(schema: type[S], data: S | Mapping[str, Any]) -> S:
    """`data` as the `schema` model, validated if it came as a mapping."""
    return data if isinstance(data, schema) else schema.model_validate(data)


def changes_of(data: BaseModel) -> dict[str, Any]:
    """The fields an update sent."""
    return data.model_dump(exclude_unset=True)


async def get_row(
    session: AsyncSession, model: type[R], row_id: int, label: str, *, lock: bool = False
) -> R:
    """The `model` row `row_id`, or `NotFound` ("<label> <id> not found").

    `lock` holds the row until the transaction ends: an update or delete that reads with it
    makes a concurrent delete wait, or finds the row gone (404), never updates nothing.
    """
    row = await session.get(model, row_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"{label} {row_id} not found")
    return row


async def add(session: AsyncSession, row: Any, conflict: str) -> None:
    """Insert `row`; a key a concurrent request took, or a row it deleted, is a `Conflict`."""
    session.add(row)
    await flush_or(
        session, Conflict(conflict), gone=Conflict("A row it refers to was just deleted")
    )


async def save(session: AsyncSession, row: Any, conflict: str) -> None:
    """Flush an update (a taken key is a `Conflict`), then reload the database's `updated_at`."""
    await flush_or(session, Conflict(conflict))
    await session.refresh(row, ["updated_at"])


# --- companies -------------------------------------------------------------------------------


async def get_company(session: AsyncSession, company_id: int, *, lock: bool = False) -> Company:
    """The company `company_id`, or `NotFound` (`lock`: see `get_row`)."""
    return await get_row(session, Company, company_id, "Company", lock=lock)


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
    data = coerce(CompanyCreate, data)
    await _ensure_company_name_free(session, data.name)
    company = Company(name=data.name)
    await add(session, company, f"Company name {data.name!r} is taken")
    return company


async def update_company(
    session: AsyncSession, company_id: int, data: CompanyUpdate | Mapping[str, Any]
) -> Company:
    """Rename a company."""
    changes = changes_of(coerce(CompanyUpdate, data))
    company = await get_company(session, company_id, lock=True)
    if changes.get("name") is not None:
        await _ensure_company_name_free(session, changes["name"], company.id)
        company.name = changes["name"]
    await save(session, company, f"Company name {company.name!r} is taken")
    return company


async def delete_company(session: AsyncSession, company_id: int) -> None:
    """Delete a company with its teams and levels; refused (409) while it has employees."""
    company = await get_company(session, company_id, lock=True)
    if await session.scalar(select(Employee.id).where(Employee.company_id == company_id).limit(1)):
        raise Conflict(f"Company {company_id} still has employees; move or delete them first")
    await session.delete(company)
    await flush_or(session, Conflict(f"Company {company_id} is still referenced"))


# --- teams -----------------------------------------------------------------------------------


async def get_team(session: AsyncSession, team_id: int, *, lock: bool = False) -> Team:
    """The team `team_id`, or `NotFound` (`lock`: see `get_row`)."""
    return await get_row(session, Team, team_id, "Team", lock=lock)


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


async def require_company(session: AsyncSession, company_id: int) -> Company:
    """The company `company_id`; a missing one is a 404 naming `company_id`."""
    company = await session.get(Company, company_id)
    if company is None:
        raise NotFound.field("company_id", f"Company {company_id} does not exist")
    return company


async def create_team(session: AsyncSession, data: TeamCreate | Mapping[str, Any]) -> Team:
    """Create a team in an existing company; a name taken in that company is a `Conflict`."""
    data = coerce(TeamCreate, data)
    await require_company(session, data.company_id)
    await _ensure_team_name_free(session, data.company_id, data.name)
    team = Team(company_id=data.company_id, name=data.name, is_company_wide=data.is_company_wide)
    await add(session, team, f"Team name {data.name!r} is taken in company {data.company_id}")
    return team


async def update_team(
    session: AsyncSession, team_id: int, data: TeamUpdate | Mapping[str, Any]
) -> Team:
    """Rename a team or change whether it spans the whole company."""
    changes = changes_of(coerce(TeamUpdate, data))
    team = await get_team(session, team_id, lock=True)
    if changes.get("name") is not None:
        await _ensure_team_name_free(session, team.company_id, changes["name"], team.id)
        team.name = changes["name"]
    if changes.get("is_company_wide") is not None:
        team.is_company_wide = changes["is_company_wide"]
    await save(session, team, f"Team name {team.name!r} is taken in company {team.company_id}")
    return team


async def delete_team(session: AsyncSession, team_id: int) -> None:
    """Delete a team and its levels; refused (409) while employees are on it."""
    team = await get_team(session, team_id, lock=True)
    if await session.scalar(select(Employee.id).where(Employee.team_id == team_id).limit(1)):
        raise Conflict(f"Team {team_id} still has employees; move them first")
    await session.delete(team)
    await flush_or(session, Conflict(f"Team {team_id} is still referenced"))


async def require_team_of(session: AsyncSession, team_id: int, company_id: int | None) -> Team:
    """The team `team_id` (a 404 if missing), which must belong to `company_id` (else a 422)."""
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound.field("team_id", f"Team {team_id} does not exist")
    if company_id is None:
        raise ValidationFailed.field("company_id", "A team needs its company_id")
    if team.company_id != company_id:
        raise ValidationFailed.field(
            "team_id", f"Team {team_id} belongs to company {team.company_id}, not {company_id}"
        )
    return team


# --- hierarchy levels ------------------------------------------------------------------------


async def get_level(session: AsyncSession, level_id: int, *, lock: bool = False) -> HierarchyLevel:
    """The hierarchy level `level_id`, or `NotFound` (`lock`: see `get_row`)."""
    return await get_row(session, HierarchyLevel, level_id, "Hierarchy level", lock=lock)


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
    data = coerce(LevelCreate, data)
    await require_company(session, data.company_id)
    if data.team_id is not None:
        await require_team_of(session, data.team_id, data.company_id)
    await _ensure_level_number_free(session, data.company_id, data.team_id, data.level_number)
    level = HierarchyLevel(
        company_id=data.company_id,
        team_id=data.team_id,
        level_number=data.level_number,
        level_name=data.level_name,
    )
    await add(session, level, f"Level number {data.level_number} is taken")
    return level


async def update_level(
    session: AsyncSession, level_id: int, data: LevelUpdate | Mapping[str, Any]
) -> HierarchyLevel:
    """Rename or renumber a level."""
    changes = changes_of(coerce(LevelUpdate, data))
    level = await get_level(session, level_id, lock=True)
    if changes.get("level_number") is not None:
        await _ensure_level_number_free(
            session, level.company_id, level.team_id, changes["level_number"], level.id
        )
        level.level_number = changes["level_number"]
    if changes.get("level_name") is not None:
        level.level_name = changes["level_name"]
    await save(session, level, f"Level number {level.level_number} is taken")
    return level


async def delete_level(session: AsyncSession, level_id: int) -> None:
    """Delete a level; refused (409) while employees hold it."""
    level = await get_level(session, level_id, lock=True)
    if await session.scalar(select(Employee.id).where(Employee.level_id == level_id).limit(1)):
        raise Conflict(f"Hierarchy level {level_id} is held by employees; move them first")
    await session.delete(level)
    await flush_or(session, Conflict(f"Hierarchy level {level_id} is still referenced"))
