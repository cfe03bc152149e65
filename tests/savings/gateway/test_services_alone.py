"""Each service served alone (`backoffice serve SERVICE`): three apps, three connections, NATS
between them, and a gateway with no database that takes core bearer tokens."""

from __future__ import annotations

import re
import shlex
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from backoffice.app import create_app
from backoffice.core.auth.service import Authenticator, Principal, Role
from backoffice.core.embedded import EmbeddedNats
from tests.live import settings_for
from tests.savings.gateway.conftest import sign_up

README = Path(__file__).resolve().parents[3] / "README.md"
UNUSED = "postgresql://unused@localhost/unused"  # no service alone touches the main database


@pytest.fixture
async def gateway_alone(
    stack_urls: dict[str, str], stack_nats: EmbeddedNats
) -> AsyncIterator[httpx.AsyncClient]:
    savings = {k: v for k, v in stack_urls.items() if k != "main"}
    base = settings_for(UNUSED, savings=savings, nats=stack_nats)
    async with AsyncExitStack() as stack:
        apps = {}
        for service in ("savings-users", "savings-accounting", "savings-gateway"):
            settings = base.model_copy(update={"service": service, "database_url": None})
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps[service] = app
        gateway = apps["savings-gateway"]
        assert not hasattr(gateway.state, "db"), "the gateway keeps no database"
        transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        await stack.enter_async_context(client)
        yield client


async def test_the_services_run_alone_and_the_gateway_reaches_them_over_nats(gateway_alone):
    api = gateway_alone
    ready = await api.get("/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["data"]["checks"]) == {"savings-gateway"}

    # The platform's token, as `POST /api/v1/auth/token` issues it (same secret key).
    operator = Authenticator(settings_for(UNUSED))
    token, _ = operator.issue_token(Principal(1, "admin", Role.ADMIN, 1))
    plan = await api.post(
        "/api/v1/savings/plans",
        json={"name": "alone 7%", "kind": "percentage", "value": 7},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert plan.status_code in (201, 409), plan.text
    basic = await api.get("/api/v1/savings/plans", auth=("admin", "adminpass"))
    assert basic.status_code == 401
    served = set((await api.get("/openapi.json")).json()["paths"])
    for response in (basic, await api.get("/api/v1/savings/balance")):
        # The 401 points at the gateway's own login, not at the platform's it does not serve.
        assert response.status_code == 401
        message = response.json()["message"]
        assert "/api/v1/savings/login" in message, message
        assert "/api/v1/savings/login" in served
        assert "/api/v1/auth/token" not in message, message
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers
    assert "bearer token" in basic.json()["message"]

    api.base_url = httpx.URL("http://test/api/v1/savings")
    customer = await sign_up(api)
    credit = await api.post(
        "/credits", json={"amount": "70"}, headers={**customer.headers, "Idempotency-Key": "alone"}
    )
    assert credit.status_code == 201, credit.text
    balance = await api.get("/balance", headers=customer.headers)
    assert balance.json()["data"]["total"] == 70


def test_the_readme_s_services_alone_block_migrates_every_database_it_serves():
    """The block that runs each service alone: every database a served service keeps is brought
    to its head by a `db upgrade` line before the services start (else it answers only 503s)."""
    from backoffice.app import SERVICE_DATABASES

    section = README.read_text().split("Each service also runs alone", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    lines = [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]
    upgraded = [args[3] for args in lines if args[1:3] == ["db", "upgrade"]]
    served = [args[2] for args in lines if args[1] == "serve"]
    assert set(served) == {"savings-users", "savings-accounting", "savings-gateway"}
    needed = {spec.service for service in served for spec in SERVICE_DATABASES[service]}
    assert set(upgraded) == needed
    first_serve = next(i for i, args in enumerate(lines) if args[1] == "serve")
    assert all(args[1] == "serve" for args in lines[first_serve:]), "migrations come first"
