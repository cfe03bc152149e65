"""A service whose database is behind its migrations serves nothing, and starts once migrated.

A savings service started on a database that `backoffice db upgrade SERVICE` has not brought to
its head answers each request with one clear 503 (`DatabaseBehind`) instead of failing on a
missing table, and says so once in its log. A watcher looks at the database every second; once
it is at the head, the service finishes starting (its relay, its consumer) and serves, with no
restart. Once open the gate stays open: a request costs one attribute read, no query.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from backoffice.core.errors import ServiceUnavailable
from backoffice.core.health import NotReady, database_ready
from backoffice.core.migrations import applied_revisions

log = structlog.get_logger()

WATCH_INTERVAL = 1.0  # seconds between looks at a database that is behind

RequestHandler = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
Opening = Callable[[bool], Awaitable[None]]


class DatabaseBehind(ServiceUnavailable):
    """The service's database is not at the head of its migrations."""

    code = "migrations_pending"


class SchemaGate:
    """Whether `service`'s database is at `heads`; closed until it is, then open for good."""

    def __init__(self, service: str, heads: set[str]) -> None:
        self.service = service
        self.heads = heads
        self.is_open = False

    async def ready(self, engine: AsyncEngine) -> str:
        """For a readiness check: the database at its heads and the service serving.

        Raises:
            NotReady: unreachable, behind, or migrated a moment ago and not serving yet.
        """
        revisions = await database_ready(engine, self.heads)
        if not self.is_open:
            raise NotReady("migrations_pending", "Migrated: the service starts serving")
        return revisions

    def error(self) -> DatabaseBehind:
        return DatabaseBehind(
            f"The {self.service} database is not migrated: run"
            f" `backoffice db upgrade {self.service}` (the service starts serving by itself)"
        )

    def guard(self, handler: RequestHandler) -> RequestHandler:
        """`handler`, answering `DatabaseBehind` while the gate is closed."""

        async def guarded(body: dict[str, Any]) -> Mapping[str, Any]:
            if not self.is_open:
                raise self.error()
            return await handler(body)

        return guarded

    async def migrated(self, engine: AsyncEngine) -> bool:
        """Whether the database is at its heads now (False too when it does not answer)."""
        try:
            return await applied_revisions(engine) == self.heads
        except Exception:  # unreachable is not migrated either; /ready says which
            return False

    @contextlib.asynccontextmanager
    async def opening(self, engine: AsyncEngine, on_open: Opening) -> AsyncIterator[None]:
        """For the block, open the gate once migrated, after `on_open` (the rest of the start).

        Before the block when the database is migrated, else in the background as soon as it
        is. `on_open` (the service's relay, its consumer) is given whether the opening is late (the database was behind at start).
        Register the guarded responders inside the block: none answers before the check.
        """
        if await self.migrated(engine):
            await on_open(False)
            self.is_open = True
            yield
            return
        log.warning(
            "database not migrated: serving nothing until it is",
            service=self.service,
            run=f"backoffice db upgrade {self.service}",
        )
        watcher = asyncio.create_task(self._watch(engine, on_open), name=f"{self.service} gate")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, engine: AsyncEngine, on_open: Opening) -> None:
        while not await self.migrated(engine):  # noqa: ASYNC110 - the database notifies nobody
            await asyncio.sleep(WATCH_INTERVAL)
        await on_open(True)
        self.is_open = True
        log.info("database migrated: serving", service=self.service)
