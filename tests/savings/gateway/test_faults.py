"""Faults against real servers: the accounting service killed mid-stream and restarted.

The accounting service runs as its own process (`backoffice serve savings-accounting`); the
users service and the gateway run here. Customers keep crediting while it is killed (SIGKILL)
and sign up while it is down; each client retries a failed credit with the same
Idempotency-Key, as a client of this API must. Nothing may be lost or applied twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from decimal import Decimal

import httpx
import pytest

from backoffice.app import create_app
from backoffice.core.embedded import EmbeddedNats, free_port
from tests.live import TEST_HOME, nats_env, own_nats, savings_databases, settings_for
from tests.savings.gateway.conftest import Customer, sign_up

UNUSED = "postgresql://unused@localhost/unused"


@pytest.fixture
def fault_urls(server_url: str) -> Iterator[dict[str, str]]:
    yield from savings_databases(server_url, "faults")


@pytest.fixture
def fault_nats() -> Iterator[EmbeddedNats]:
    with own_nats("savings-faults") as server:
        yield server


class AccountingProcess:
    """`backoffice serve savings-accounting` in a process of its own."""

    def __init__(self, url: str, nats: EmbeddedNats) -> None:
        self.env = {
            **os.environ,
            "BACKOFFICE_ENV": "test",
            "BACKOFFICE_HOME": str(TEST_HOME),
            "SAVINGS_ACCOUNTING_DATABASE_URL": url,
            **nats_env(nats),
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("DATABASE_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backoffice",
                "serve",
                "savings-accounting",
                "--port",
                str(port),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "accounting exited at start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("accounting did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no drain, no goodbye
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
async def gateway(
    fault_urls: dict[str, str], fault_nats: EmbeddedNats
) -> AsyncIterator[httpx.AsyncClient]:
    """The users service and the gateway, in-process, alone each (their own apps)."""
    base = settings_for(UNUSED, savings=fault_urls, nats=fault_nats)
    async with AsyncExitStack() as stack:
        apps = {}
        for service in ("savings-users", "savings-gateway"):
            settings = base.model_copy(
                update={
                    "service": service,
                    "database_url": None,
                    "savings_request_timeout_seconds": 1.0,
                    "savings_account_wait_seconds": 20.0,
                }
            )
            apps[service] = create_app(settings)
            await stack.enter_async_context(apps[service].router.lifespan_context(apps[service]))
        transport = httpx.ASGITransport(app=apps["savings-gateway"], raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://test/api/v1/savings")
        yield await stack.enter_async_context(client)


async def credit_until_done(
    api: httpx.AsyncClient, customer: Customer, amount: Decimal, key: str
) -> dict[str, object]:
    """Credit, retrying with the same key while the accounting service is away."""
    headers = {**customer.headers, "Idempotency-Key": key}
    deadline = time.monotonic() + 60
    while True:
        response = await api.post("/credits", json={"amount": str(amount)}, headers=headers)
        if response.status_code == 201:
            data: dict[str, object] = response.json()["data"]
            return data
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "the credit never went through"
        await asyncio.sleep(0.1)


async def test_accounting_killed_mid_stream_and_restarted_loses_and_repeats_nothing(
    gateway, fault_urls, fault_nats
):
    accounting = AccountingProcess(fault_urls["savings-accounting"], fault_nats)
    accounting.start()
    try:
        customers = [await sign_up(gateway) for _ in range(4)]
        amounts = {
            c.user_id: [Decimal(n) + Decimal("0.01") for n in range(1, 31)] for c in customers
        }
        landed = 0
        mid_stream = asyncio.Event()  # some credits in, most to come

        async def stream(customer: Customer) -> list[dict[str, object]]:
            nonlocal landed
            credits = []
            for n, amount in enumerate(amounts[customer.user_id]):
                credits.append(await credit_until_done(gateway, customer, amount, f"k{n}"))
                landed += 1
                if landed == 20:
                    mid_stream.set()
            return credits

        streams = asyncio.gather(*(stream(c) for c in customers))
        await mid_stream.wait()
        accounting.kill()
        killed_at = landed
        # Sign-ups while accounting is down: their events wait in the stream.
        late = [await sign_up(gateway) for _ in range(2)]
        await asyncio.sleep(0.3)
        accounting.start()
        results = await streams
        assert killed_at < 120, "the kill came after the stream ended"
        for late_customer in late:
            done = await credit_until_done(gateway, late_customer, Decimal("9.99"), "late")
            assert done["amount"] == 9.99

        for customer, credits in zip(customers, results, strict=True):
            assert len({c["credit_id"] for c in credits}) == 30
            balance = (await gateway.get("/balance", headers=customer.headers)).json()["data"]
            assert Decimal(str(balance["total"])) == sum(amounts[customer.user_id])
            listed = await gateway.get("/transactions", headers=customer.headers)
            assert listed.json()["pagination"]["total"] == 30
    finally:
        accounting.stop()
