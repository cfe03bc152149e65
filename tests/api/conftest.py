"""One live server on a demo database for the whole-API tests (fuzzing, the auth matrix)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Authenticator, Role
from backoffice.core.db import Database
from backoffice.demo import DEMO_ACCOUNTS, published_logins
from tests.live import LIVE_DATABASES, live_demo, settings_for


@pytest.fixture(scope="package")
def api_url(server_url: str) -> Iterator[str]:
    """Base URL of the real app on a committed database loaded with the demo."""
    yield from live_demo(server_url, "backoffice_api")


@pytest.fixture(autouse=True)
def demo_logins_restored(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the live server, the demo logins work again as published.

    A fuzzer acting as the admin changes other accounts' roles, passwords and status through
    `/api/v1/auth/accounts` (never the admin's own: that is refused): the next test starts
    from the demo as documented.
    """
    yield
    if "api_url" in request.fixturenames:
        url = LIVE_DATABASES[request.getfixturevalue("api_url")]
        with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever the test ran in
            pool.submit(asyncio.run, _restore_demo_logins(url)).result()


async def _restore_demo_logins(url: str) -> None:
    auth = Authenticator(settings_for(url))
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            for username, password in published_logins().items():
                role = Role(username) if username in DEMO_ACCOUNTS else Role.STAFF
                account = await session.scalar(select(Account).where(Account.username == username))
                if account is None:
                    continue  # the API deletes no account
                if not (account.role == role and account.is_active) or not auth._verify(
                    account.password_hash, password
                ):
                    account.role, account.is_active = role.value, True
                    account.password_hash = auth.hash_password(password)
                    account.auth_version += 1
    finally:
        await database.dispose()


def basic_header(username: str, password: str) -> str:
    """The value of an `Authorization: Basic` header."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
