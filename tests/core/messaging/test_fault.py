"""The fault test: NATS stops while customers sign up; nothing is lost, nothing arrives twice."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.core.messaging import Bus, MessagingUnavailable, OutboxRelay, enqueue
from tests.core.messaging.conftest import Collector, Tables, eventually, unique
from tests.live import embedded_nats


async def test_nats_down_while_customers_sign_up(tmp_path: Path, tables: Tables):
    server = embedded_nats(tmp_path / "nats")  # its own server: this test stops it
    url = await asyncio.to_thread(server.start)
    port = server.port
    assert port is not None
    bus = await Bus.connect(url, name="fault", login=server.login("tests"), reconnect_wait=0.1)
    stream, prefix = "USERS", "users.v1"
    await bus.ensure_stream(stream, [f"{prefix}.>"])
    relay = OutboxRelay(tables.database.sessionmaker, tables.outbox, bus, poll_interval=0.1)
    seen = Collector()
    await bus.consume(stream, unique("accounting"), f"{prefix}.>", seen)
    enqueued: list[str] = []

    async def sign_up(count: int) -> None:
        for _ in range(count):
            async with tables.database.unit_of_work() as session:
                n = len(enqueued)
                enqueued.append(
                    await enqueue(session, tables.outbox, f"{prefix}.created", {"n": n})
                )
            relay.wake()
            await asyncio.sleep(0.005)

    try:
        async with relay.lifespan():
            await sign_up(20)
            await eventually(lambda: len(seen.messages) == 20)

            await asyncio.to_thread(server.stop)
            await eventually(lambda: not bus.connected)
            await sign_up(30)  # while NATS is down: each commit still succeeds
            with pytest.raises(MessagingUnavailable):
                await bus.publish(f"{prefix}.created", {}, msg_id="probe")
            async with tables.database.sessionmaker() as session:
                waiting = (
                    await session.execute(select(func.count()).select_from(tables.outbox))
                ).scalar_one()
            assert waiting == 30

            await asyncio.to_thread(server.start, port=port)  # same port, same store
            more = asyncio.create_task(sign_up(20))  # and customers keep signing up
            await more
            await eventually(lambda: len(set(seen.msg_ids)) == 70, timeout=15)
            async with tables.database.sessionmaker() as session:
                left = (
                    await session.execute(select(func.count()).select_from(tables.outbox))
                ).scalar_one()
            assert left == 0
        info = await bus.jetstream.stream_info(stream)
        assert info.state.messages == 70  # nothing twice in the stream
        # The consumer may see a message again (an ack lost in the outage): never another one.
        assert list(dict.fromkeys(seen.msg_ids)) == enqueued  # all of them, in order
    finally:
        await bus.close()
        await asyncio.to_thread(server.stop)
