"""The console in-process: clients that sign in through the sign-in form, like a browser.

`console_as(role)` makes an account of that role and signs it in; `console_client(username)`
signs in an existing one. Each is an `httpx.AsyncClient` with its own cookies, talking to the
app inside the test's rolled-back transaction, with the session's CSRF token at hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth import accounts
from backoffice.core.auth.service import Authenticator, Role, create_account
from backoffice.core.auth.throttle import LoginThrottle, MemoryStore, Policy
from backoffice.core.broker import broker_context
from backoffice.core.config import Settings
from backoffice.core.contexts import build_app
from backoffice.savings import permissions
from backoffice.savings.accounting import context as savings_accounting
from backoffice.savings.accounting.demo import load_demo_plans
from backoffice.savings.gateway import context as savings_gateway
from backoffice.savings.users import context as savings_users
from backoffice.services import SAVINGS_ACCOUNTING, SAVINGS_USERS
from tests.conftest import PASSWORD
from tests.console.accounts_support import id_of
from tests.console.browser import CHROMIUM, CHROMIUM_ARGS, Visit, open_page
from tests.live import live_demo, nats_settings, own_nats, savings_databases

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleClient(httpx.AsyncClient):
    """A browser of the console: cookies kept, and the CSRF token of its session."""

    csrf = ""

    async def form(
        self, path: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        """Post a form from a page of this session (its CSRF token added)."""
        return await self.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(http: ConsoleClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form, as a browser does; the response to the form's post."""
    page = await http.get("/console/sign-in")
    assert page.status_code == 200, page.text
    answer = await http.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page.text), "username": username, "password": password},
    )
    if answer.status_code == 303:
        home = await http.get("/console/")
        if home.status_code == 200:
            http.csrf = csrf_of(home.text)
    return answer


@pytest.fixture
async def console_clients(
    served_app: FastAPI, session: AsyncSession
) -> AsyncIterator[Callable[[], ConsoleClient]]:
    """Make any number of separate browsers (closed after the test)."""
    made: list[ConsoleClient] = []

    def make() -> ConsoleClient:
        transport = httpx.ASGITransport(app=served_app, raise_app_exceptions=False)
        http = ConsoleClient(transport=transport, base_url="http://test")
        made.append(http)
        return http

    yield make
    for http in made:
        await http.aclose()


@pytest.fixture
async def console_client(
    console_clients: Callable[[], ConsoleClient],
) -> Callable[[str], Awaitable[ConsoleClient]]:
    """Sign in an existing account in a new browser."""

    async def signed_in(username: str, password: str = PASSWORD) -> ConsoleClient:
        http = console_clients()
        answer = await sign_in(http, username, password)
        assert answer.status_code == 303, answer.text
        return http

    return signed_in


@pytest.fixture
async def console_as(
    session: AsyncSession,
    auth: Authenticator,
    console_client: Callable[[str], Awaitable[ConsoleClient]],
) -> Callable[[Role], Awaitable[ConsoleClient]]:
    """A new account of `role`, signed in to the console in a new browser."""

    async def signed_in(role: Role) -> ConsoleClient:
        name = f"{role.value}-{uuid.uuid4().hex[:6]}"
        await create_account(session, auth, username=name, password=PASSWORD, role=role)
        return await console_client(name)

    return signed_in


@pytest.fixture
def throttle(app: FastAPI) -> Iterator[None]:
    """The app's throttle for this test: 3 free failures an account, 50 an address.

    The test app does not throttle sign-ins (tests/live.py); the tests of lockouts install this.
    """
    limits = {"first_lock": 30.0, "max_lock": 600.0, "memory": 3600.0}
    saved = app.state.login_throttle
    app.state.login_throttle = LoginThrottle(
        MemoryStore(), account=Policy(3, **limits), address=Policy(50, **limits)
    )
    yield
    app.state.login_throttle = saved


# --- accounts, for the Accounts section's tests ----------------------------------------------


@pytest.fixture
async def people(session: AsyncSession, auth: Authenticator) -> str:
    """Five accounts sharing a unique prefix: two staff, a disabled manager, a manager, an admin."""
    prefix = f"acc{uuid.uuid4().hex[:6]}"
    made = {
        f"{prefix}-ann": Role.STAFF,
        f"{prefix}-bob": Role.STAFF,
        f"{prefix}-cat": Role.MANAGER,
        f"{prefix}-dan": Role.MANAGER,
        f"{prefix}-eli": Role.ADMIN,
    }
    for name, role in made.items():
        await create_account(session, auth, username=name, password=PASSWORD, role=role)
    cat = await accounts.account_named(session, f"{prefix}-cat")
    await accounts.set_active(
        session, auth, accounts.Operator.command_line("tests"), cat, active=False
    )
    await session.flush()
    return prefix


@pytest.fixture
async def signed_in_admin(
    session: AsyncSession,
    auth: Authenticator,
    console_client: Callable[[str], Awaitable[ConsoleClient]],
) -> tuple[ConsoleClient, str, int]:
    """An admin signed in to the console: (browser, username, account id)."""
    name = f"boss-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.ADMIN)
    http = await console_client(name)
    return http, name, await id_of(session, name)


# --- the savings services, for the savings pages -------------------------------------------


@pytest.fixture(scope="session")
async def savings_services(server_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """The savings services and the gateway's client, running, on their own databases and NATS.

    The test app runs no lifespan, so nothing answers its savings calls; this app runs theirs
    (with the demo's plans, so plan 1 exists), and `savings` lends its client to the test app.
    """
    for urls in savings_databases(server_url, "console_savings"):
        await load_demo_plans(urls[SAVINGS_ACCOUNTING.service])
        with own_nats("console-savings") as nats:
            own = settings.model_copy(
                update={**nats_settings(nats), "savings_account_wait_seconds": 5.0}
            )
            stack = build_app(
                [
                    broker_context(own, permissions.NATS_USERS),
                    savings_users.context(own, urls[SAVINGS_USERS.service], pool=(2, 0)),
                    savings_accounting.context(own, urls[SAVINGS_ACCOUNTING.service], pool=(2, 0)),
                    savings_gateway.context(own),
                ]
            )
            stack.state.test_nats = nats  # for tests that publish as a service would
            async with stack.router.lifespan_context(stack):
                yield stack


@pytest.fixture
def savings(app: FastAPI, savings_services: FastAPI) -> Iterator[None]:
    """The test app's savings calls answered by `savings_services` for this test."""
    saved = getattr(app.state, "savings_client", None)
    app.state.savings_client = savings_services.state.savings_client
    yield
    app.state.savings_client = saved


async def sign_up_customer(
    http: ConsoleClient, email: str | None = None, password: str = PASSWORD
) -> str:
    """Sign a new customer up through the console's form (signed in after); their email."""
    email = email or f"saver-{uuid.uuid4().hex[:10]}@example.com"
    page = await http.get("/console/savings/sign-up")
    assert page.status_code == 200, page.text
    answer = await http.post(
        "/console/savings/sign-up",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": str(uuid.uuid4()),
            "email": email,
            "full_name": "Sam Saver",
            "password": password,
        },
    )
    assert answer.status_code == 303, answer.text
    home = await http.get("/console/savings/")
    assert home.status_code == 200, home.text
    http.csrf = csrf_of(home.text)
    return email


@pytest.fixture
async def console_customer(
    savings: None, console_clients: Callable[[], ConsoleClient]
) -> Callable[[], Awaitable[tuple[ConsoleClient, str]]]:
    """A new savings customer, signed up and in through the console: (browser, email)."""

    async def signed_up() -> tuple[ConsoleClient, str]:
        http = console_clients()
        return http, await sign_up_customer(http)

    return signed_up


# --- the browser tests: the real app served on fresh demo databases, and one Chromium --------


@pytest.fixture(scope="session")
def console_live(server_url: str) -> Iterator[str]:
    """The real app with the demo loaded, served on loopback: its base URL (one per run)."""
    yield from live_demo(server_url, "console_live")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium (`make dev` installs it; Playwright downloads nothing)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make dev` installs it"
    return CHROMIUM


@pytest.fixture(scope="session")
async def chromium(chromium_path: str) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the whole run."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def visit(chromium: Browser, console_live: str) -> AsyncIterator[Visit]:
    """A new tab of its own (own cookies) on the live console."""
    async with open_page(chromium, console_live) as tab:
        yield tab
