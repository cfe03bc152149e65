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

from backoffice.core.auth.service import Authenticator, Role, create_account
from tests.conftest import PASSWORD
from tests.console.browser import CHROMIUM, CHROMIUM_ARGS, Visit, open_page
from tests.live import live_demo

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
