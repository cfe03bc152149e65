"""The accounting service as a context: its event store and database, responders and consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backoffice.core.broker import check_connected, connect
from backoffice.core.contexts import Context
from backoffice.core.db import Database
from backoffice.core.health import database_ready
from backoffice.core.migrations import head_revisions
from backoffice.savings.accounting import handlers
from backoffice.savings.accounting.service import AccountingService

SCRIPTS = "backoffice.savings.accounting:migrations"


def context(url: str, *, pool: tuple[int, int]) -> Context:
    """The accounting service on the database at `url`, on a NATS connection of its own.

    Args:
        url: its own database.
        pool: the size of the event store's pool (and of the threads into it) and of the read
            engine's, and the read engine's overflow.
    """
    heads = head_revisions(SCRIPTS)

    def setup(app: FastAPI) -> None:
        # For `/ready` before the service connects: a small engine that never serves requests.
        app.state.savings_accounting_db = Database(url, pool_size=1, max_overflow=0)

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        probe: Database = app.state.savings_accounting_db
        try:
            size, overflow = pool
            service = await AccountingService.open(
                url, store_pool_size=size, db_pool_size=size, db_max_overflow=overflow
            )
            try:
                async with connect(app, "savings-accounting") as bus:
                    await handlers.register(bus, service)
                    await handlers.consume_user_events(bus, service)
                    app.state.savings_accounting_bus = bus
                    yield
            finally:
                app.state.savings_accounting_bus = None
                await service.close()
        finally:
            await probe.dispose()

    async def ready(app: FastAPI) -> str:
        check_connected(getattr(app.state, "savings_accounting_bus", None))
        return await database_ready(app.state.savings_accounting_db.engine, heads)

    return Context(
        "savings-accounting",
        setup=setup,
        lifespan=(serving,),
        readiness={"savings-accounting": ready},
    )
