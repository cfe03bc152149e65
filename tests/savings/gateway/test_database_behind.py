"""A savings service whose database is behind its migrations (issue 18, section 7): one clear
503 for every request, then, once `backoffice db upgrade SERVICE` has run, it serves without a
restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator, Principal, Role
from backoffice.core.embedded import EmbeddedNats
from tests.core.messaging.conftest import eventually, logged, record_logs
from tests.live import SAVINGS, own_nats, scratch_database, settings_for
from tests.savings.gateway.conftest import PASSWORD, sign_up

UNUSED = "postgresql://unused@localhost/unused"  # no service alone touches the main database
SERVICES = ("savings-users", "savings-accounting", "savings-gateway")


@pytest.fixture
def empty_urls(server_url: str) -> Iterator[dict[str, str]]:
    """Each savings service's own database, with no schema at all."""
    for users in scratch_database(server_url, "behind_users"):
        for accounting in scratch_database(server_url, "behind_accounting"):
            yield {"savings-users": users, "savings-accounting": accounting}


@pytest.fixture
def nats() -> Iterator[EmbeddedNats]:
    with own_nats("behind") as server:
        yield server


def _client(app: FastAPI, base: str = "http://test/api/v1/savings") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base)


async def _ready(app: FastAPI) -> httpx.Response:
    async with _client(app, "http://test") as http:
        return await http.get("/ready")


async def test_a_service_behind_its_migrations_answers_503_then_serves_once_migrated(
    empty_urls: dict[str, str], nats: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
):
    base = settings_for(UNUSED, savings=empty_urls, nats=nats)
    token, _ = Authenticator(base).issue_token(Principal(1, "admin", Role.ADMIN, 1))
    operator = {"Authorization": f"Bearer {token}"}
    customer = {"email": "behind@example.com", "password": PASSWORD, "full_name": "Behind"}
    logs = record_logs(monkeypatch)
    async with AsyncExitStack() as stack:
        apps = {}
        for service in SERVICES:
            app = create_app(base.model_copy(update={"service": service, "database_url": None}))
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps[service] = app
        api = await stack.enter_async_context(_client(apps["savings-gateway"]))

        for service in ("savings-users", "savings-accounting"):
            ready = await _ready(apps[service])
            assert ready.status_code == 503
            assert ready.json()["errors"][0]["code"] == "migrations_pending"
        for response, service in (
            (await api.post("/signup", json=customer), "savings-users"),
            (await api.get("/plans", headers=operator), "savings-accounting"),
        ):
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["errors"][0]["code"] == "migrations_pending"
            assert f"backoffice db upgrade {service}" in body["message"]

        for service, url in empty_urls.items():  # what `backoffice db upgrade SERVICE` does
            await asyncio.to_thread(migrations.upgrade, url, scripts=SAVINGS[service].scripts)

        async def all_ready() -> bool:
            return all([(await _ready(app)).status_code == 200 for app in apps.values()])

        await eventually(all_ready, timeout=10)
        signed_up = await sign_up(api)  # the users service, its event, accounting's consumer
        credit = await api.post(
            "/credits",
            json={"amount": "12.50"},
            headers={**signed_up.headers, "Idempotency-Key": "behind"},
        )
        assert credit.status_code == 201, credit.text  # the event store, opened anew
    assert logged(logs, "error", "exception", "critical") == []
    behind = [event for event in logged(logs, "warning") if "not migrated" in event]
    assert len(behind) == 2, "said once per service"
