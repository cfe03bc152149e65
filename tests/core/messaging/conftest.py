"""Fixtures for core.messaging: a bus on the session's NATS, a database with the two tables."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import MetaData, Table, delete
from structlog.testing import CapturingLogger

from backoffice.core.db import Database
from backoffice.core.messaging import Bus, Message, outbox_table, processed_messages_table
from backoffice.core.messaging.bus import CLOSE_TIMEOUT
from tests.live import scratch_database


def unique(prefix: str) -> str:
    """A name no other test (or earlier run on a persistent server) has used."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def eventually(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> None:
    """Wait until `condition()` holds, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@dataclass
class Tables:
    database: Database
    outbox: Table
    processed: Table


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    connected = await Bus.connect(nats_url, name="tests")
    yield connected
    # Closing never hangs: each of its steps (consumers, replies in flight, the drain) is bounded
    # by CLOSE_TIMEOUT, so the whole by a few of them, whatever the machine's load.
    await asyncio.wait_for(connected.close(), 3 * CLOSE_TIMEOUT)


@pytest.fixture(scope="module")
async def module_tables(server_url: str) -> AsyncIterator[Tables]:
    metadata = MetaData()
    outbox, processed = outbox_table(metadata), processed_messages_table(metadata)
    for url in scratch_database(server_url, "messaging"):
        database = Database(url, pool_size=4, max_overflow=0)
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        try:
            yield Tables(database, outbox, processed)
        finally:
            await database.dispose()


@pytest.fixture
async def tables(module_tables: Tables) -> Tables:
    """The module's tables, emptied."""
    async with module_tables.database.unit_of_work() as session:
        await session.execute(delete(module_tables.outbox))
        await session.execute(delete(module_tables.processed))
    return module_tables


@pytest.fixture
async def stream(bus: Bus) -> tuple[str, str]:
    """A fresh stream and the subject prefix it captures: `(name, prefix)`."""
    name, prefix = unique("S").upper(), unique("t")
    await bus.ensure_stream(name, [f"{prefix}.>"])
    return name, prefix


class Collector:
    """A consumer handler that records every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def msg_ids(self) -> list[str | None]:
        return [m.msg_id for m in self.messages]


def record_logs(monkeypatch: pytest.MonkeyPatch) -> CapturingLogger:
    """What the messaging modules (and the schema gate) log, recorded instead of printed.

    Their module loggers are replaced: structlog's `capture_logs` cannot reach loggers the
    app's configuration caches on first use.
    """
    from backoffice.core import schemagate
    from backoffice.core.messaging import bus, outbox

    recorder = CapturingLogger()
    for module in (bus, outbox, schemagate):
        monkeypatch.setattr(module, "log", recorder)
    return recorder


def logged(recorder: CapturingLogger, *levels: str) -> list[str]:
    """The events recorded at `levels` (e.g. "warning", "error", "exception")."""
    return [str(call.args[0]) for call in recorder.calls if call.method_name in levels]
