"""The outbox (enqueue in the change's transaction, relay after commit) and the inbox."""

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from backoffice.core.messaging import (
    Bus,
    MessagingUnavailable,
    OutboxRelay,
    enqueue,
    first_time,
)
from tests.core.messaging.conftest import Collector, Tables, eventually, unique


async def outbox_rows(tables: Tables) -> int:
    async with tables.database.sessionmaker() as session:
        return int(
            (await session.execute(select(func.count()).select_from(tables.outbox))).scalar_one()
        )


class FailingBus:
    """Publishes through the real bus, except that call number `fail_at` raises `error`."""

    def __init__(self, bus: Bus, fail_at: int, error: Exception) -> None:
        self.bus, self.fail_at, self.error, self.calls = bus, fail_at, error, 0

    async def publish(self, subject: str, payload: Mapping[str, Any], *, msg_id: str) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error
        await self.bus.publish(subject, payload, msg_id=msg_id)


async def test_relay_publishes_in_order_and_deletes(bus: Bus, stream, tables: Tables):
    name, prefix = stream
    async with tables.database.unit_of_work() as session:
        ids = [await enqueue(session, tables.outbox, f"{prefix}.e", {"n": n}) for n in range(5)]
    relay = OutboxRelay(tables.database.sessionmaker, tables.outbox, bus)
    assert await relay.relay_once() == 5
    assert await relay.relay_once() == 0
    assert await outbox_rows(tables) == 0
    seen = Collector()
    await bus.consume(name, unique("d"), f"{prefix}.>", seen)
    await eventually(lambda: len(seen.messages) == 5)
    assert seen.msg_ids == ids
    assert [m.data for m in seen.messages] == [{"n": n} for n in range(5)]


async def test_a_rolled_back_enqueue_publishes_nothing(bus: Bus, stream, tables: Tables):
    name, prefix = stream
    async with tables.database.sessionmaker() as session:
        await enqueue(session, tables.outbox, f"{prefix}.e", {"n": 1})
        await session.rollback()
    relay = OutboxRelay(tables.database.sessionmaker, tables.outbox, bus)
    assert await relay.relay_once() == 0
    assert (await bus.jetstream.stream_info(name)).state.messages == 0


async def test_a_failure_part_way_deletes_only_what_was_published(bus: Bus, stream, tables):
    name, prefix = stream
    async with tables.database.unit_of_work() as session:
        ids = [await enqueue(session, tables.outbox, f"{prefix}.e", {"n": n}) for n in range(3)]
    flaky = FailingBus(bus, fail_at=2, error=MessagingUnavailable("down"))
    relay = OutboxRelay(tables.database.sessionmaker, tables.outbox, cast(Bus, flaky))
    with pytest.raises(MessagingUnavailable):
        await relay.relay_once()
    assert await outbox_rows(tables) == 2
    assert await relay.relay_once() == 2  # the rest, still in order
    seen = Collector()
    await bus.consume(name, unique("d"), f"{prefix}.>", seen)
    await eventually(lambda: len(seen.messages) == 3)
    assert seen.msg_ids == ids


async def test_the_loop_relays_on_wake_and_survives_errors(bus: Bus, stream, tables: Tables):
    name, prefix = stream
    # Fails once with an unexpected error: the loop logs it, backs off and tries again.
    flaky = FailingBus(bus, fail_at=1, error=RuntimeError("surprise"))
    # A poll interval far beyond the test: only wake() (or the retry) can relay in time.
    relay = OutboxRelay(
        tables.database.sessionmaker, tables.outbox, cast(Bus, flaky), poll_interval=60
    )
    seen = Collector()
    await bus.consume(name, unique("d"), f"{prefix}.>", seen)
    async with relay.lifespan():
        for n in range(3):
            async with tables.database.unit_of_work() as session:
                await enqueue(session, tables.outbox, f"{prefix}.e", {"n": n})
            relay.wake()
            await eventually(lambda n=n: len(seen.messages) == n + 1, timeout=5)
    assert flaky.calls == 4  # one failure, then three publishes
    assert [m.data["n"] for m in seen.messages] == [0, 1, 2]
    async with tables.database.unit_of_work() as session:
        await enqueue(session, tables.outbox, f"{prefix}.e", {"n": 3})
    relay.wake()  # stopped: nothing relays any more
    await asyncio.sleep(0.2)
    assert await outbox_rows(tables) == 1


async def test_first_time_is_true_once_per_consumer(tables: Tables):
    async with tables.database.unit_of_work() as session:
        assert await first_time(session, tables.processed, "accounting", "m1") is True
        assert await first_time(session, tables.processed, "accounting", "m1") is False
        assert await first_time(session, tables.processed, "reports", "m1") is True
    async with tables.database.sessionmaker() as session:
        assert await first_time(session, tables.processed, "accounting", "m2") is True
        await session.rollback()  # the effect failed: the id goes with it
    async with tables.database.unit_of_work() as session:
        assert await first_time(session, tables.processed, "accounting", "m2") is True
        assert await first_time(session, tables.processed, "accounting", "m1") is False
