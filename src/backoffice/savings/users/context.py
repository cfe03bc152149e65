"""The users service as a context: its database, its responders and its outbox relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backoffice.core.broker import check_connected, connect
from backoffice.core.config import Settings
from backoffice.core.contexts import Context
from backoffice.core.db import Database
from backoffice.core.messaging import OutboxRelay
from backoffice.core.migrations import head_revisions
from backoffice.core.schemagate import SchemaGate
from backoffice.savings.keys import signing_key
from backoffice.savings.subjects import USERS_EVENTS, USERS_STREAM
from backoffice.savings.tokens import TokenSigner
from backoffice.savings.users import handlers
from backoffice.savings.users.models import OUTBOX
from backoffice.savings.users.passwords import Hasher
from backoffice.services import SAVINGS_USERS

NAME = SAVINGS_USERS.service


def context(settings: Settings, url: str, *, pool: tuple[int, int]) -> Context:
    """The users service on the database at `url`, on a NATS connection of its own.

    Args:
        settings: hashing costs, token keys and lifetime.
        url: its own database.
        pool: its connection pool's size and overflow.
    """
    signer = TokenSigner(signing_key(settings), ttl_seconds=settings.savings_token_ttl_seconds)
    gate = SchemaGate(NAME, head_revisions(SAVINGS_USERS.scripts))

    def setup(app: FastAPI) -> None:
        app.state.savings_users_db = Database(url, pool_size=pool[0], max_overflow=pool[1])

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        database: Database = app.state.savings_users_db
        try:
            async with connect(app, NAME) as bus:
                await bus.ensure_stream(USERS_STREAM, [USERS_EVENTS])
                relay = OutboxRelay(database.sessionmaker, OUTBOX, bus)

                async def start(late: bool) -> None:
                    relay.start()  # no outbox to relay before the database is migrated

                try:
                    async with gate.opening(database.engine, start):
                        hasher = Hasher.from_settings(settings)
                        sessions = database.sessionmaker
                        await handlers.register(bus, sessions, relay, hasher, signer, gate=gate)
                        yield
                finally:
                    await relay.stop()
        finally:
            await database.dispose()

    async def ready(app: FastAPI) -> str:
        check_connected(app, NAME)
        return await gate.ready(app.state.savings_users_db.engine)

    return Context(NAME, setup=setup, lifespan=(serving,), readiness={NAME: ready})
