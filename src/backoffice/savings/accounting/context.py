"""The accounting service as a context: its event store and database, responders and consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backoffice.core.broker import check_connected, connect
from backoffice.core.config import Settings
from backoffice.core.contexts import Context
from backoffice.core.migrations import head_revisions
from backoffice.core.schemagate import SchemaGate
from backoffice.savings.accounting import handlers
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.keys import verifying_key
from backoffice.savings.tokens import TokenVerifier
from backoffice.services import SAVINGS_ACCOUNTING

NAME = SAVINGS_ACCOUNTING.service


def context(settings: Settings, url: str, *, pool: tuple[int, int]) -> Context:
    """The accounting service on the database at `url`, on a NATS connection of its own.

    Args:
        settings: the customer tokens' public key and lifetime.
        url: its own database.
        pool: the size of the event store's pool (and of the threads into it) and of the read
            engine's, and the read engine's overflow.
    """
    gate = SchemaGate(NAME, head_revisions(SAVINGS_ACCOUNTING.scripts))
    verifier = TokenVerifier(
        verifying_key(settings), max_lifetime=settings.savings_token_ttl_seconds
    )

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        size, overflow = pool
        service = await AccountingService.open(
            url, store_pool_size=size, db_pool_size=size, db_max_overflow=overflow
        )
        app.state.savings_accounting = service
        try:
            async with connect(app, NAME) as bus:

                async def start(late: bool) -> None:
                    if late:  # the store's connections predate the schema: new ones
                        await service.reopen_store()
                    await handlers.consume_user_events(bus, service)  # the events waited

                async with gate.opening(service.database.engine, start):
                    await handlers.register(bus, service, verifier, gate=gate)
                    yield
        finally:
            await service.close()

    async def ready(app: FastAPI) -> str:
        check_connected(app, NAME)  # not before the service is open
        service: AccountingService = app.state.savings_accounting
        return await gate.ready(service.database.engine)

    return Context(NAME, lifespan=(serving,), readiness={NAME: ready})
