"""The three savings services and the gateway in one app, on their own databases and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backoffice.app import create_app
from backoffice.core.embedded import EmbeddedNats
from tests.live import demo_database, own_nats, savings_databases, settings_for

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="package")
def stack_nats() -> Iterator[EmbeddedNats]:
    """A NATS server of the package's own: nothing else answers on the services' subjects."""
    with own_nats("savings-gateway") as server:
        yield server


@pytest.fixture(scope="package")
def stack_urls(server_url: str) -> Iterator[dict[str, str]]:
    """The main database (with the demo's admin) and each savings service's own."""
    for main in demo_database(server_url, "gateway_main"):
        for savings in savings_databases(server_url, "gateway"):
            yield {"main": main, **savings}


@pytest.fixture(scope="package")
async def stack(stack_urls: dict[str, str], stack_nats: EmbeddedNats) -> AsyncIterator[FastAPI]:
    """Everything in one app with its lifespan running (services connected, consumer started)."""
    savings = {k: v for k, v in stack_urls.items() if k != "main"}
    settings = settings_for(stack_urls["main"], savings=savings, nats=stack_nats)
    settings = settings.model_copy(update={"savings_account_wait_seconds": 5.0})
    app = create_app(settings, database_url=stack_urls["main"])
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(stack: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the whole stack, in-process."""
    transport = httpx.ASGITransport(app=stack, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test/api/v1/savings"
    ) as client:
        yield client


@dataclass(frozen=True)
class Customer:
    """A signed-up customer and their bearer header."""

    user_id: str
    email: str
    headers: dict[str, str]


async def sign_up(api: httpx.AsyncClient, *, email: str | None = None) -> Customer:
    """Sign up and log in a new customer (a unique email unless given)."""
    import uuid

    email = email or f"c-{uuid.uuid4().hex[:12]}@example.com"
    created = await api.post(
        "/signup", json={"email": email, "password": PASSWORD, "full_name": "Test Customer"}
    )
    assert created.status_code == 201, created.text
    login = await api.post("/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["data"]["access_token"]
    return Customer(created.json()["data"]["user_id"], email, {"Authorization": f"Bearer {token}"})


ADMIN = httpx.BasicAuth("admin", "adminpass")


async def make_plan(api: httpx.AsyncClient, kind: str, value: str) -> dict[str, Any]:
    """A new plan with a unique name, created by the demo's admin."""
    import uuid

    response = await api.post(
        "/plans",
        json={"name": f"{kind} {value} {uuid.uuid4().hex[:6]}", "kind": kind, "value": value},
        auth=ADMIN,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
