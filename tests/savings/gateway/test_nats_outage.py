"""The savings services through a NATS outage (issue 18, section 7): after the server comes back
on its address they reconnect by themselves, and a shutdown while it is down ends cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from backoffice.app import create_app
from backoffice.core.embedded import EmbeddedNats, free_port
from backoffice.core.messaging.bus import FETCH_TIMEOUT
from tests.core.messaging.conftest import eventually, logged, record_logs
from tests.live import SAVINGS, TEST_HOME, nats_env, own_nats, settings_for
from tests.savings.gateway.conftest import sign_up

UNUSED = "postgresql://unused@localhost/unused"  # no service alone touches the main database
SERVICES = ("savings-users", "savings-accounting", "savings-gateway")


@asynccontextmanager
async def services_alone(
    urls: dict[str, str], nats: EmbeddedNats, stack: AsyncExitStack
) -> AsyncIterator[dict[str, FastAPI]]:
    """Each savings service as its own app, lifespans running until `stack` closes."""
    savings = {name: url for name, url in urls.items() if name != "main"}
    base = settings_for(UNUSED, savings=savings, nats=nats)
    apps = {}
    for service in SERVICES:
        app = create_app(base.model_copy(update={"service": service, "database_url": None}))
        await stack.enter_async_context(app.router.lifespan_context(app))
        apps[service] = app
    yield apps


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test/api/v1/savings")


async def _ready(app: FastAPI) -> bool:
    async with _client(app) as http:
        return (await http.get("http://test/ready")).status_code == 200


async def _all_ready(apps: dict[str, FastAPI]) -> bool:
    return all([await _ready(app) for app in apps.values()])


async def _sign_up_and_credit(api: httpx.AsyncClient, key: str) -> None:
    customer = await sign_up(api)
    credit = await api.post(
        "/credits", json={"amount": "25"}, headers={**customer.headers, "Idempotency-Key": key}
    )
    assert credit.status_code == 201, credit.text


async def test_the_services_reconnect_when_nats_comes_back_on_its_address(stack_urls):
    with own_nats("outage") as nats:
        port = nats.port
        async with AsyncExitStack() as stack:
            apps = await stack.enter_async_context(services_alone(stack_urls, nats, stack))
            api = await stack.enter_async_context(_client(apps["savings-gateway"]))
            await _sign_up_and_credit(api, "before")

            await asyncio.to_thread(nats.stop)
            await eventually(lambda: _not(_all_ready(apps)))
            await asyncio.to_thread(nats.start, port=port)  # as start_nats does: same address

            await eventually(lambda: _all_ready(apps), timeout=15)
            await _sign_up_and_credit(api, "after")  # a command, an event, a credit


async def _not(ready: asyncio.Future[bool] | object) -> bool:
    return not await ready  # type: ignore[misc]


async def test_a_shutdown_while_nats_is_down_ends_cleanly(stack_urls, monkeypatch):
    logs = record_logs(monkeypatch)
    with own_nats("down-at-shutdown") as nats:
        async with AsyncExitStack() as stack:
            apps = await stack.enter_async_context(services_alone(stack_urls, nats, stack))
            api = await stack.enter_async_context(_client(apps["savings-gateway"]))
            await _sign_up_and_credit(api, "down")  # every connection busy: pulls, relay, replies
            await asyncio.to_thread(nats.stop)
            await eventually(lambda: _not(_all_ready(apps)))
            # The consumer pulls again meanwhile: nats-py keeps that for the server's return.
            await asyncio.sleep(FETCH_TIMEOUT * 1.5)
        # Leaving the block ran every lifespan's shutdown: none raised.
    assert logged(logs, "error", "exception", "critical") == []


def test_backoffice_serve_stopped_while_nats_is_down_exits_without_a_traceback(
    stack_urls, tmp_path
):
    """`backoffice serve` (uvicorn, uvloop) of each service, SIGTERM while NATS is down."""
    savings = {SAVINGS[name].variable: url for name, url in stack_urls.items() if name in SAVINGS}
    with own_nats("serve-down") as nats:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")},
            **savings,
            **nats_env(nats),
            "BACKOFFICE_ENV": "test",
            "BACKOFFICE_HOME": str(TEST_HOME),
            "LOG_LEVEL": "WARNING",
        }
        served = {}
        for service in ("savings-users", "savings-accounting"):
            port = free_port()
            served[service] = (
                subprocess.Popen(
                    [sys.executable, "-m", "backoffice", "serve", service, "--port", str(port)],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                port,
            )
        try:
            for service, (proc, port) in served.items():
                _wait_ready(proc, port, service)
            nats.stop()
            time.sleep(FETCH_TIMEOUT * 2)  # pulls, relays and pings find it gone
            for proc, _ in served.values():
                proc.send_signal(signal.SIGTERM)
            for service, (proc, _) in served.items():
                _, stderr = proc.communicate(timeout=30)
                assert "Traceback" not in stderr, (service, stderr)
                assert "shutdown failed" not in stderr, (service, stderr)
                # uvicorn re-raises the signal it stopped on, once shut down.
                assert proc.returncode in (0, -signal.SIGTERM), (service, proc.returncode, stderr)
        finally:
            for proc, _ in served.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def _wait_ready(proc: subprocess.Popen[str], port: int, service: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (service, proc.communicate()[1])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{service} did not become ready")
