"""Fixtures of the users service: its own migrated database, sessions, hasher, keys, NATS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import nats
import nats.js.errors
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backoffice.core import migrations
from backoffice.core.db import Database
from backoffice.core.messaging import Bus, OutboxRelay
from backoffice.savings.subjects import USER_CREATED, USER_DELETED, USER_UPDATED, USERS_STREAM
from backoffice.savings.tokens import KeyPair, TokenSigner, TokenVerifier, ensure_key_pair
from backoffice.savings.users.handlers import register
from backoffice.savings.users.models import OUTBOX
from backoffice.savings.users.passwords import Hasher
from tests.live import scratch_database, settings_for

USERS_SCRIPTS = "backoffice.savings.users:migrations"
# The event subjects only: `savings.users.v1.>` would also capture the command subjects
# (`savings.users.v1.cmd.*`), and JetStream would then answer every request with a publish ack.
EVENT_SUBJECTS = [USER_CREATED, USER_UPDATED, USER_DELETED]
EVENTS_FILTER = "savings.users.v1.*"


@pytest.fixture(scope="session")
def users_database_url(server_url: str) -> Iterator[str]:
    """A scratch `savings_users` database migrated with the users history; dropped after."""
    for url in scratch_database(server_url, "savings_users"):
        migrations.upgrade(url, scripts=USERS_SCRIPTS)
        yield url


@pytest.fixture(scope="session")
async def users_database(users_database_url: str) -> AsyncIterator[Database]:
    """Engine and sessions on the rolled-back tests' database."""
    database = Database(users_database_url, pool_size=2, max_overflow=2)
    yield database
    await database.dispose()


@pytest.fixture
async def users_session(users_database: Database) -> AsyncIterator[AsyncSession]:
    """A session whose outer transaction is rolled back after the test.

    The services' savepoints (`flush_or`) nest inside it, as they would in a real transaction.
    """
    async with users_database.engine.connect() as conn:
        transaction = await conn.begin()
        session = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
def hasher(users_database_url: str) -> Hasher:
    """Argon2 at the tests' cheap cost (time 1, 1 MiB)."""
    return Hasher.from_settings(settings_for(users_database_url))


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A fresh Ed25519 key pair on disk."""
    return ensure_key_pair(tmp_path_factory.mktemp("savings-keys"))


@pytest.fixture(scope="session")
def signer(key_pair: KeyPair) -> TokenSigner:
    """Signs tokens with the pair's private key, valid 15 minutes."""
    return TokenSigner(key_pair.private_pem, ttl_seconds=900)


@pytest.fixture(scope="session")
def verifier(key_pair: KeyPair) -> TokenVerifier:
    """Verifies with the pair's public key only, as the gateway does."""
    return TokenVerifier(key_pair.public_pem)


@pytest.fixture(scope="session")
def committed_users_url(server_url: str) -> Iterator[str]:
    """A committed users database for the handlers (they commit their own transactions)."""
    for url in scratch_database(server_url, "savings_users_live"):
        migrations.upgrade(url, scripts=USERS_SCRIPTS)
        yield url


@pytest.fixture(scope="session")
async def users_stream(nats_url: str) -> AsyncIterator[str]:
    """The JetStream stream the users events land in, named for this run.

    A persistent `NATS_URL` server (or another test module) may already have a stream that
    captures the users subjects: a second one would overlap, so that one is used and left as
    it was. Otherwise a stream named for this run is created and deleted afterwards.
    """
    nc = await nats.connect(nats_url)
    jsm = nc.jsm()
    try:
        existing: str | None = await jsm.find_stream_name_by_subject(USER_CREATED)
    except nats.js.errors.NotFoundError:
        existing = None
    name = existing or f"{USERS_STREAM}_TEST_{uuid.uuid4().hex[:8].upper()}"
    bus = await Bus.connect(nats_url, name="savings-users-stream-setup")
    if existing is None:
        await bus.ensure_stream(name, EVENT_SUBJECTS)
    try:
        yield name
    finally:
        await bus.close()
        if existing is None:
            await jsm.delete_stream(name)
        await nc.close()


@dataclass
class UsersService:
    """The users service as it runs: a bus answering its commands and a relay."""

    bus: Bus
    client: Bus
    relay: OutboxRelay
    database: Database
    stream: str


@pytest.fixture
async def users_service(
    nats_url: str,
    committed_users_url: str,
    users_stream: str,
    hasher: Hasher,
    signer: TokenSigner,
) -> AsyncIterator[UsersService]:
    """The users responders on NATS with their relay running, and a client bus to call them."""
    database = Database(committed_users_url, pool_size=2, max_overflow=2)
    sessions: async_sessionmaker[AsyncSession] = database.sessionmaker
    bus = await Bus.connect(nats_url, name="savings-users-test")
    client = await Bus.connect(nats_url, name="savings-users-test-client")
    relay = OutboxRelay(sessions, OUTBOX, bus, poll_interval=5.0)
    await register(bus, sessions, relay, hasher, signer)
    relay.start()
    try:
        yield UsersService(bus, client, relay, database, users_stream)
    finally:
        await relay.stop()
        await client.close()
        await bus.close()
        await database.dispose()


def unique_email(name: str = "ada") -> str:
    """An email no other test uses (the committed database keeps every test's rows)."""
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"
