"""Public read functions about the approval hierarchy (used by expenses to build chains).

Read-only queries of the org tables; other contexts call these instead of touching the
tables. Levels are compared by `level_number` (1 is the most senior). The hot ones run on a
driver connection (`core.db.Sql`); a caller holding an ORM session passes `driver_of(session)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    outerjoin,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from backoffice.core.db import Driver, Sql
from backoffice.org.models import Company, Employee, HierarchyLevel, Team


@dataclass(frozen=True, slots=True)
class Placement:
    """An employee with where they sit: company, team, level number and name."""

    employee_id: int
    full_name: str
    company_id: int | None
    team_id: int | None
    level_number: int | None
    level_name: str | None
    company_wide: bool
    is_active: bool
    account_id: int | None


# An employee with their level and team: the FROM and the columns of every placement read.
_PLACED = outerjoin(Employee, HierarchyLevel, HierarchyLevel.id == Employee.level_id).outerjoin(
    Team, Team.id == Employee.team_id
)
_PLACEMENT_COLUMNS = (
    Employee.id,
    Employee.full_name,
    Employee.company_id,
    Employee.team_id,
    HierarchyLevel.level_number,
    HierarchyLevel.level_name,
    Team.is_company_wide,
    Employee.is_active,
    Employee.account_id,
)


def _placements() -> Select[*tuple[Any, ...]]:
    return select(*_PLACEMENT_COLUMNS).select_from(_PLACED)


def _placement(row: Sequence[Any]) -> Placement:
    eid, name, company, team, number, level_name, wide, active, account = row
    return Placement(eid, name, company, team, number, level_name, bool(wide), active, account)


# Built and compiled once: a request skips building, hashing and processing them (a measurable
# share of a request's CPU under load).
_BY_ID = Sql(_placements().where(Employee.id == bindparam("employee_id")))
_BY_ACCOUNT = Sql(_placements().where(Employee.account_id == bindparam("account_id")))
# The caller's placement as a one-row subquery that another statement outer-joins, so that who
# asks comes back in the same round trip as what they asked for (see `with_caller`).
_CALLER = _placements().where(Employee.account_id == bindparam("account_id")).subquery("caller")
_CALLER_COLUMNS = tuple(column.label(f"caller_{column.key}") for column in _CALLER.c)
_ONE_ROW = select(literal_column("1").label("one")).subquery("one_row")
# The caller's placement columns (`CALLER.id`, `CALLER.company_id`, `CALLER.team_id`, ...), for a
# statement given to `with_caller` that depends on who asks.
CALLER = _CALLER.c


def employee_of_account(account_id: Any) -> ScalarSelect[int]:
    """SQL for the id of the employee linked to the login `account_id` (NULL if none)."""
    return select(Employee.id).where(Employee.account_id == account_id).scalar_subquery()


def with_caller(
    statement: Select[*tuple[Any, ...]],
    *order_by: str,
    beside: Select[*tuple[Any, ...]] | None = None,
) -> Select[*tuple[Any, ...]]:
    """`statement`'s rows, each after the placement of the login `:account_id`'s employee.

    Always at least one row: the caller's columns are NULL if no employee is linked to the
    login, and `statement`'s if it finds nothing. `statement` may use `CALLER` (it is
    joined LATERAL). `beside`, a one-row statement that may also use `CALLER`, is computed
    once and its columns repeated on every row (between the caller's and `statement`'s).
    `order_by` names `statement`'s columns that order the result (a subquery keeps no order
    of its own). Read it with `split_caller`.
    """
    asked = statement.lateral("asked")
    joined = _ONE_ROW.outerjoin(_CALLER, true())
    columns: list[Any] = [*_CALLER_COLUMNS]
    if beside is not None:
        once = beside.lateral("beside")
        joined = joined.outerjoin(once, true())
        columns.extend(once.c)
    return (
        select(*columns, *asked.c)
        .select_from(joined.outerjoin(asked, true()))
        .order_by(*(asked.c[name] for name in order_by))
    )


def split_caller(rows: Sequence[Any], key: str) -> tuple[Placement | None, list[Any]]:
    """The caller's placement and `statement`'s rows (those whose `key` column is not NULL).

    `rows` are driver records of a `with_caller` statement.
    """
    if not rows:
        return None, []
    first = rows[0]
    caller = _placement(tuple(first)[: len(_CALLER_COLUMNS)]) if first[0] is not None else None
    return caller, [row for row in rows if row[key] is not None]


async def placement(conn: Driver, employee_id: int) -> Placement | None:
    """Where the employee `employee_id` sits, or None if there is no such employee."""
    row = await _BY_ID.fetchrow(conn, employee_id=employee_id)
    return _placement(row) if row is not None else None


async def placement_by_account(conn: Driver, account_id: int) -> Placement | None:
    """Where the employee linked to the login `account_id` sits, or None if none is linked."""
    row = await _BY_ACCOUNT.fetchrow(conn, account_id=account_id)
    return _placement(row) if row is not None else None


def candidate_pool(
    company_id: Any,
    max_level_number: Any,
    team_in_scope: Callable[[Any, Any], ColumnElement[bool]],
) -> Select[tuple[Any]]:
    """SQL for the active employees of `company_id` at `max_level_number` or more senior.

    Only those whose team passes `team_in_scope(team_id, is_company_wide)` (SQL expressions).
    One row, one column `pool`: a JSON array of placements, most junior level first, that
    another statement can read in the same round trip (`with_caller(..., beside=...)`).
    Read it with `placements`.
    """
    return (
        select(
            func.coalesce(
                func.json_agg(
                    aggregate_order_by(
                        func.json_build_array(*_PLACEMENT_COLUMNS),
                        HierarchyLevel.level_number.desc(),
                        Employee.id,
                    )
                ),
                literal_column("'[]'::json"),
            ).label("pool")
        )
        .select_from(_PLACED)
        .where(
            Employee.company_id == company_id,
            Employee.is_active.is_(True),
            HierarchyLevel.level_number <= max_level_number,
            team_in_scope(Employee.team_id, Team.is_company_wide),
        )
    )


def placements(pool: list[Any] | None) -> list[Placement]:
    """The placements of a `candidate_pool` value (JSON, decoded by the driver)."""
    return [_placement(row) for row in pool or ()]


async def team_company(session: AsyncSession, team_id: int) -> int | None:
    """The company of the team `team_id`, or None if there is no such team."""
    return await session.scalar(select(Team.company_id).where(Team.id == team_id))


async def company_exists(session: AsyncSession, company_id: int) -> bool:
    """Whether the company `company_id` exists."""
    return await session.scalar(select(Company.id).where(Company.id == company_id)) is not None


async def company_by_name(session: AsyncSession, name: str) -> int | None:
    """The id of the company called `name`, or None."""
    return await session.scalar(select(Company.id).where(Company.name == name))


def level_name_of(
    employee_id: ColumnElement[int] | InstrumentedAttribute[int],
    level_number: ColumnElement[int] | InstrumentedAttribute[int],
) -> ScalarSelect[str]:
    """SQL for the name of level `level_number` on the ladder of the employee `employee_id`.

    Their ladder is the one their level belongs to (their company's or their team's), so a level
    number recorded earlier keeps its name after they move to another level. NULL if they have
    no level or their ladder no such number. Lets another context show level names in the same
    query as its own rows.
    """
    theirs = aliased(HierarchyLevel)
    return (
        select(HierarchyLevel.level_name)
        .select_from(Employee)
        .join(theirs, theirs.id == Employee.level_id)
        .join(
            HierarchyLevel,
            and_(
                HierarchyLevel.company_id == theirs.company_id,
                HierarchyLevel.team_id.is_not_distinct_from(theirs.team_id),
                HierarchyLevel.level_number == level_number,
            ),
        )
        .where(Employee.id == employee_id)
        .scalar_subquery()
    )


def full_name_of(employee_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """A SQL expression for the full name of the employee `employee_id` (a column).

    Lets another context read names in the same query as its own rows (one round trip).
    """
    return select(Employee.full_name).where(Employee.id == employee_id).scalar_subquery()
