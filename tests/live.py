"""Scratch databases, test settings, and a real uvicorn server in a thread on a demo database.

The server is for tests that need what the rolled-back test transaction cannot give: several connections
seeing each other's commits, a real pool, HTTP from another client (a fuzzer, a browser).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings
from backoffice.core.db import Database
from backoffice.core.embedded import drop_database, ensure_database, free_port, with_database
from backoffice.demo import load_demo


def settings_for(url: str) -> Settings:
    """Settings for tests: cheap hashing, no rate limit, quiet logs."""
    return Settings(
        BACKOFFICE_ENV="test",
        DATABASE_URL=url,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        rate_limit_per_minute=0,
        log_level="WARNING",
    )


def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on the server, dropped when the generator is closed."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ensure_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


def demo_database(server_url: str, prefix: str) -> Iterator[str]:
    """A committed scratch database migrated to head with the demo loaded; dropped after."""
    for url in scratch_database(server_url, prefix):
        migrations.upgrade(url)
        asyncio.run(_load_demo(url, settings_for(url)))
        yield url


def live_demo(server_url: str, prefix: str) -> Iterator[str]:
    """The real app served on a fresh demo database: yields its base URL (for fixtures)."""
    for url in demo_database(server_url, prefix):
        with serve(create_app(settings_for(url), database_url=url)) as base:
            yield base


async def _load_demo(url: str, settings: Settings) -> None:
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            await load_demo(session, Authenticator(settings))
    finally:
        await database.dispose()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
