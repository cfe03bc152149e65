"""Small keyword factories for expense tests, built on org's and payroll's public services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Authenticator, Role, create_account
from backoffice.expenses.models import ExpensePolicy
from backoffice.expenses.policies import insert_policy
from backoffice.expenses.rules import Scope
from backoffice.expenses.schemas import PolicyCreate, StepCreate
from backoffice.org import employees as org_employees
from backoffice.org import service as org
from backoffice.org.countries import country_exists
from backoffice.payroll.schemas import CountryUpsert
from backoffice.payroll.service import upsert_country
from tests.conftest import PASSWORD, basic

LEVEL_NAMES = ("CTO", "VP", "Director", "AD", "SEM", "Manager", "SDE3")
FIRST_NAMES = ("Alice", "Bob", "Carol", "David", "Eve", "Frank", "Grace")


async def ensure_us(session: AsyncSession) -> None:
    if not await country_exists(session, "US"):
        await upsert_country(
            session,
            CountryUpsert(
                iso_code="US", name="United States", currency="USD", current_deduction=Decimal(0)
            ),
        )


@dataclass
class Person:
    id: int
    name: str
    level: int | None
    headers: dict[str, str]


@dataclass
class Org:
    company_id: int
    team_id: int
    levels: dict[int, int]  # level number -> level id
    people: dict[str, Person] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, first_name: str) -> Person:
        return self.people[first_name]


async def add_person(
    session: AsyncSession,
    auth: Authenticator,
    company: Org,
    first_name: str,
    level: int | None,
    *,
    team_id: int | None = None,
    active: bool = True,
    role: Role = Role.STAFF,
) -> Person:
    tag = uuid.uuid4().hex[:6]
    username = f"{first_name.lower()}-{tag}"
    account = await create_account(session, auth, username=username, password=PASSWORD, role=role)
    employee = await org_employees.create_employee(
        session,
        {
            "full_name": f"{first_name} {tag}",
            "job_title": "Engineer",
            "country_iso": "US",
            "salary": Decimal("100000"),
            "company_id": company.company_id,
            "team_id": team_id if team_id is not None else company.team_id,
            "level_id": company.levels[level] if level is not None else None,
            "email": f"{username}@example.com",
            "is_active": active,
            "account_id": account.id,
        },
    )
    person = Person(employee.id, employee.full_name, level, basic(username))
    company.people[first_name] = person
    return person


def step(
    order: int,
    level: int,
    *,
    required: bool = True,
    scope: Scope = Scope.SUBMITTER,
    team_id: int | None = None,
) -> StepCreate:
    return StepCreate(
        step_order=order,
        required_level=level,
        team_scope=scope,
        scope_team_id=team_id,
        is_required=required,
    )


async def add_policy(
    session: AsyncSession,
    company: Org,
    name: str,
    steps: list[StepCreate],
    *,
    category: str | None = None,
    min_amount: str = "0.01",
    max_amount: str | None = None,
    active: bool = True,
) -> ExpensePolicy:
    policy, _ = await insert_policy(
        session,
        PolicyCreate(
            company_id=company.company_id,
            category=category or f"cat-{uuid.uuid4().hex[:8]}",
            name=name,
            min_amount=Decimal(min_amount),
            max_amount=Decimal(max_amount) if max_amount is not None else None,
            is_active=active,
            steps=steps,
        ),
    )
    company.policies[name] = policy.id
    return policy


async def make_company(
    session: AsyncSession, auth: Authenticator, *, people: bool = True, policies: bool = True
) -> Org:
    """A TechCorp-like company: one team, levels 1..7, one person per level, three policies."""
    await ensure_us(session)
    company = await org.create_company(session, {"name": f"Co {uuid.uuid4().hex[:10]}"})
    team = await org.create_team(session, {"company_id": company.id, "name": "Technology"})
    levels = {}
    for number, level_name in enumerate(LEVEL_NAMES, start=1):
        level = await org.create_level(
            session,
            {
                "company_id": company.id,
                "team_id": None,
                "level_number": number,
                "level_name": level_name,
            },
        )
        levels[number] = level.id
    result = Org(company.id, team.id, levels)
    if people:
        for number, first_name in enumerate(FIRST_NAMES, start=1):
            await add_person(session, auth, result, first_name, number)
    if policies:
        await add_policy(
            session,
            result,
            "Small Equipment",
            [step(1, 6)],
            category="equipment",
            max_amount="1999.99",
        )
        await add_policy(
            session,
            result,
            "Large Equipment",
            [step(1, 6), step(2, 5), step(3, 4)],
            category="equipment",
            min_amount="2000.00",
        )
        await add_policy(
            session, result, "Business Travel", [step(1, 6), step(2, 5)], category="travel"
        )
    return result
