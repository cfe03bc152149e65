"""TechCorp Solutions, the demo company of expense approvals (`backoffice demo load`).

On a fresh database it is loaded right after the countries and before anything else that
creates employees, so its seven employees get ids 1..7 and its policies ids 1..3, as the
README walkthroughs expect. Each employee can log in as their lower-case first name with the
password `<first name>-pass` (e.g. `grace` / `grace-pass`).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Authenticator, Role, create_account
from backoffice.expenses.policies import insert_policy
from backoffice.expenses.rules import Scope
from backoffice.expenses.schemas import PolicyCreate, StepCreate
from backoffice.org import employees as org_employees
from backoffice.org import hierarchy
from backoffice.org import service as org
from backoffice.org.countries import country_exists

COMPANY = "TechCorp Solutions"
TEAM = "Technology"
COUNTRY = "US"

# (level name, full name, job title, annual salary), level 1 (most senior) first.
PEOPLE: tuple[tuple[str, str, str, str], ...] = (
    ("CTO", "Alice Chen", "Chief Technology Officer", "250000.00"),
    ("VP", "Bob Smith", "VP of Engineering", "220000.00"),
    ("Director", "Carol Johnson", "Director of Engineering", "190000.00"),
    ("AD", "David Wilson", "Associate Director of Engineering", "170000.00"),
    ("SEM", "Eve Davis", "Senior Engineering Manager", "150000.00"),
    ("Manager", "Frank Miller", "Engineering Manager", "130000.00"),
    ("SDE3", "Grace Taylor", "Software Development Engineer III", "120000.00"),
)


def credentials(full_name: str) -> tuple[str, str]:
    """The demo login of an employee: (`first name`, `first name-pass`), lower-case."""
    first = full_name.split()[0].lower()
    return first, f"{first}-pass"


# Published demo credentials (production must not run with them).
DEMO_ACCOUNTS: dict[str, str] = dict(credentials(name) for _, name, _, _ in PEOPLE)


def _policies(company_id: int) -> list[PolicyCreate]:
    def step(order: int, level: int, description: str) -> StepCreate:
        return StepCreate(
            step_order=order,
            required_level=level,
            team_scope=Scope.SUBMITTER,
            description=description,
        )

    return [
        PolicyCreate(
            company_id=company_id,
            category="equipment",
            name="Small Equipment",
            description="Equipment under 2000",
            min_amount=Decimal("0.01"),
            max_amount=Decimal("1999.99"),
            steps=[step(1, 6, "Manager")],
        ),
        PolicyCreate(
            company_id=company_id,
            category="equipment",
            name="Large Equipment",
            description="Equipment of 2000 and over",
            min_amount=Decimal("2000.00"),
            steps=[step(1, 6, "Manager"), step(2, 5, "SEM"), step(3, 4, "AD")],
        ),
        PolicyCreate(
            company_id=company_id,
            category="travel",
            name="Business Travel",
            description="Flights, hotels and ground transport for work",
            min_amount=Decimal("0.01"),
            steps=[step(1, 6, "Manager"), step(2, 5, "SEM")],
        ),
    ]


async def load_techcorp(session: AsyncSession, auth: Authenticator) -> int:
    """Create TechCorp Solutions unless it exists; return how many employees were created.

    Raises:
        RuntimeError: the country "US" is missing (the payroll demo loads countries first).
    """
    if await hierarchy.company_by_name(session, COMPANY) is not None:
        return 0
    if not await country_exists(session, COUNTRY):
        raise RuntimeError(f"load the countries first: {COUNTRY!r} is missing")
    company = await org.create_company(session, {"name": COMPANY})
    team = await org.create_team(session, {"company_id": company.id, "name": TEAM})
    for number, (level_name, full_name, job_title, salary) in enumerate(PEOPLE, start=1):
        level = await org.create_level(
            session,
            {
                "company_id": company.id,
                "team_id": team.id,
                "level_number": number,
                "level_name": level_name,
            },
        )
        username, password = credentials(full_name)
        account = await create_account(
            session, auth, username=username, password=password, role=Role.STAFF
        )
        await org_employees.create_employee(
            session,
            {
                "full_name": full_name,
                "job_title": job_title,
                "country_iso": COUNTRY,
                "salary": Decimal(salary),
                "company_id": company.id,
                "team_id": team.id,
                "level_id": level.id,
                "email": f"{username}@techcorp.example",
                "account_id": account.id,
            },
        )
    for policy in _policies(company.id):
        await insert_policy(session, policy)
    return len(PEOPLE)
