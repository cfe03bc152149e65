"""The transactional outbox: events written with the change that caused them, relayed after commit.

A service inserts its event into its own `outbox` table in the transaction of the change
(`enqueue`), so that the event exists if and only if the change committed. `OutboxRelay` then
publishes the rows in order and deletes them.

Each row's `msg_id` travels as the `Nats-Msg-Id` header. A crash (or a lost ack) between the
broker's ack and the commit of the row's deletion republishes the row later: within the
stream's duplicate window the broker drops that copy itself, and beyond it the consumers drop
it (`inbox.first_time`). So an event is delivered at least once and applied exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backoffice.core.messaging.bus import Bus, MessagingUnavailable

log = structlog.get_logger()

BATCH = 100  # rows relayed per transaction
BACKOFF_FIRST = 0.1  # seconds before retrying after a failure, doubling ...
BACKOFF_MAX = 2.0  # ... up to this


def outbox_table(metadata: MetaData) -> Table:
    """Declare the `outbox` table in a service's metadata (its own migration creates it).

    Args:
        metadata: The service's metadata.

    Returns:
        The table: `id`, `msg_id` (unique), `subject`, `payload` (JSONB), `created_at`.
    """
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("msg_id", Uuid(as_uuid=False), nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def enqueue(
    session: AsyncSession, table: Table, subject: str, payload: Mapping[str, Any]
) -> str:
    """Add an event to the outbox in the session's transaction (this never commits).

    Args:
        session: The session of the change the event reports.
        table: The service's outbox table.
        subject: The subject to publish it on.
        payload: The event's body (JSON-serialisable).

    Returns:
        The event's message id (a UUID as text), its `Nats-Msg-Id` once published.
    """
    msg_id = str(uuid.uuid4())
    await session.execute(
        insert(table).values(msg_id=msg_id, subject=subject, payload=dict(payload))
    )
    return msg_id


class OutboxRelay:
    """Publishes committed outbox rows, oldest first, and deletes those the broker acked.

    Several relays (processes) may share one table: each locks the rows it relays and skips
    the rows others hold.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        bus: Bus,
        *,
        poll_interval: float = 0.5,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.table = table
        self.bus = bus
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def relay_once(self) -> int:
        """Publish up to 100 of the oldest rows, in order, and delete them, in one transaction.

        Returns:
            How many rows were published (0: nothing left that another relay does not hold).

        Raises:
            MessagingUnavailable: Publishing failed part way; the rows published before the
                failure are deleted (and committed) first, the others stay for the next try.
        """
        table = self.table
        published: list[int] = []
        failure: MessagingUnavailable | None = None
        async with self.sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.id, table.c.msg_id, table.c.subject, table.c.payload)
                    .order_by(table.c.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                try:
                    await self.bus.publish(row.subject, row.payload, msg_id=str(row.msg_id))
                except MessagingUnavailable as exc:
                    failure = exc  # stop here: the next rows must not overtake this one
                    break
                published.append(row.id)
            if published:
                await session.execute(delete(table).where(table.c.id.in_(published)))
        if failure is not None:
            raise failure
        return len(published)

    def wake(self) -> None:
        """Relay now rather than at the next poll (call after committing an enqueue)."""
        self._wake.set()

    def start(self) -> None:
        """Start relaying in the background until `stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox relay")

    async def stop(self) -> None:
        """Stop relaying (rows left over are relayed by the next start, or another relay)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the relay for the duration of an app's lifespan (`async with relay.lifespan()`).

        Yields:
            Nothing: the relay runs until the block exits.
        """
        self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            # Cleared before reading: a wake() during the relay brings another round at once.
            self._wake.clear()
            try:
                while await self.relay_once():
                    pass
            except MessagingUnavailable as exc:
                log.warning("outbox relay waits for NATS", error=str(exc), retry_in=backoff)
            except Exception:
                log.exception("outbox relay failed", retry_in=backoff)
            else:
                backoff = BACKOFF_FIRST
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
