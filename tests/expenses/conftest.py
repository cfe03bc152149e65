from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Authenticator
from tests.expenses.factories import Org, make_company


@pytest.fixture
async def acme(session: AsyncSession, auth: Authenticator) -> Org:
    """A company with seven people on levels 1..7 and the three classic policies."""
    return await make_company(session, auth)


@pytest.fixture
async def globex(session: AsyncSession, auth: Authenticator) -> Org:
    """Another company, to prove isolation."""
    return await make_company(session, auth)
