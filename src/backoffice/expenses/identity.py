"""Who is acting: the caller's login, the employee it is linked to, and whom they may act as.

A caller acts as the employee their login is linked to; only an admin may name someone else
(recorded as acting on their behalf). Isolation: a caller linked to an employee sees only that
company; anything of another company is "not found". A platform login linked to no employee
(the demo's admin) sees every company.

Reaches the database only through org's compiled statements (`core.db.Sql`) on a `Driver`:
the statement pool, or the connection under an ORM session (`driver_of(session)`, so the
lookup runs in that session's transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Principal
from backoffice.core.db import Driver, driver_of
from backoffice.expenses.capabilities import ExpenseCapabilities, Linked, acting_as, capabilities
from backoffice.org import hierarchy
from backoffice.org.hierarchy import Placement


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller: their login and the employee it is linked to (None for a platform login)."""

    principal: Principal
    employee: Placement | None

    @property
    def company_id(self) -> int | None:
        """The one company the caller may see, or None for every company."""
        return self.employee.company_id if self.employee is not None else None

    @property
    def employee_id(self) -> int | None:
        return self.employee.employee_id if self.employee is not None else None

    def sees(self, company_id: int | None) -> bool:
        """Whether rows of `company_id` are visible to the caller (isolation)."""
        return self.employee is None or company_id == self.employee.company_id

    @property
    def capabilities(self) -> ExpenseCapabilities:
        """What the caller may do in expenses (`capabilities.capabilities`)."""
        return capabilities(self.principal.role, linked(self.employee))


def linked(employee: Placement | None) -> Linked | None:
    """The facts the capability rule needs about a login's employee."""
    if employee is None:
        return None
    return Linked(
        employee.employee_id, employee.company_id, employee.is_active, employee.level_number
    )


async def resolve_actor(conn: Driver, principal: Principal) -> Actor:
    """The caller and the employee their login is linked to."""
    return Actor(principal, await hierarchy.placement_by_account(conn, principal.account_id))


async def session_actor(session: AsyncSession, principal: Principal) -> Actor:
    """`resolve_actor` inside the session's transaction."""
    return await resolve_actor(await driver_of(session), principal)


async def act_as(conn: Driver, actor: Actor, employee_id: int, field: str) -> Placement:
    """The employee the caller acts as: themselves, or anyone visible for an admin.

    Raises:
        EmployeeNotFound: no such employee in the caller's company (404).
        NoLinkedEmployee: a non-admin login linked to no employee (403).
        NotYourIdentity: a non-admin naming someone else (403).
    """
    if actor.employee is not None and actor.employee.employee_id == employee_id:
        return actor.employee
    caps = actor.capabilities
    target = (
        await hierarchy.placement(conn, employee_id)
        if caps.employee_id is not None or caps.may_act_for_others
        else None  # refused whoever it names: no need to look them up
    )
    acting_as(
        caps,
        employee_id,
        target.company_id if target is not None else None,
        target_exists=target is not None,
        field=field,
    )
    assert target is not None  # acting_as refuses a missing employee
    return target


async def act_as_in_session(
    session: AsyncSession, actor: Actor, employee_id: int, field: str
) -> Placement:
    """`act_as` for a caller holding an ORM session: the lookup runs in its transaction."""
    return await act_as(await driver_of(session), actor, employee_id, field)
