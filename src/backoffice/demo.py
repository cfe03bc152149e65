"""Demo data for `make run`: loaded by `backoffice demo load`, never by a migration; idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Authenticator, Role, create_account

# Published demo credentials (one account per role).
DEMO_ACCOUNTS: dict[str, str] = {
    "admin": "adminpass",
    "manager": "managerpass",
    "staff": "staffpass",
}


def published_logins() -> dict[str, str]:
    """Every login the demo loader creates (the role accounts and TechCorp's employees).

    Production refuses to start while any of them still works.
    """
    from backoffice.expenses.demo import DEMO_ACCOUNTS as TECHCORP

    return {**DEMO_ACCOUNTS, **TECHCORP}


async def load_accounts(session: AsyncSession, auth: Authenticator) -> int:
    """Create the demo accounts that do not exist yet; return how many were created."""
    existing = set(
        await session.scalars(select(Account.username).where(Account.username.in_(DEMO_ACCOUNTS)))
    )
    created = 0
    for username, password in DEMO_ACCOUNTS.items():
        if username not in existing:
            await create_account(
                session, auth, username=username, password=password, role=Role(username)
            )
            created += 1
    return created


async def load_demo(session: AsyncSession, auth: Authenticator) -> dict[str, int]:
    """Load every context's demo data; return what each part created."""
    from backoffice.expenses.demo import load_techcorp
    from backoffice.payroll.demo import load_countries, load_employees

    created = {"accounts": await load_accounts(session, auth)}
    created["countries"] = await load_countries(session)  # employees of every context need them
    created["techcorp_employees"] = await load_techcorp(session, auth)  # employee ids 1..7
    created["payroll_employees"] = await load_employees(session)
    return created
