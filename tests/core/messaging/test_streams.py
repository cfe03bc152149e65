"""JetStream: streams, dedup by Nats-Msg-Id, durable consumers that ack and redeliver."""

import asyncio

import pytest
from nats.js.api import StorageType

from backoffice.core.messaging import Bus, Message
from backoffice.core.messaging import bus as bus_module
from tests.core.messaging.conftest import Collector, eventually, logged, record_logs, unique


async def test_ensure_stream_is_idempotent_and_updates_the_subjects(bus: Bus):
    name, prefix = unique("S").upper(), unique("t")
    await bus.ensure_stream(name, [f"{prefix}.a.>"])
    await bus.ensure_stream(name, [f"{prefix}.a.>"])
    await bus.ensure_stream(name, [f"{prefix}.a.>", f"{prefix}.b.>"])
    config = (await bus.jetstream.stream_info(name)).config
    assert config.subjects == [f"{prefix}.a.>", f"{prefix}.b.>"]
    assert config.storage == StorageType.FILE
    assert config.duplicate_window == 120


async def test_the_same_msg_id_twice_is_stored_once(bus: Bus, stream: tuple[str, str]):
    name, prefix = stream
    await bus.publish(f"{prefix}.x", {"n": 1}, msg_id="first")
    await bus.publish(f"{prefix}.x", {"n": 1}, msg_id="first")
    assert (await bus.jetstream.stream_info(name)).state.messages == 1
    await bus.publish(f"{prefix}.x", {"n": 2}, msg_id="second")
    assert (await bus.jetstream.stream_info(name)).state.messages == 2


async def test_a_consumer_gets_each_message_and_acks_it(bus: Bus, stream: tuple[str, str]):
    name, prefix = stream
    for n in range(3):
        await bus.publish(f"{prefix}.created", {"n": n}, msg_id=f"m{n}")
    await bus.publish(f"{prefix}.other", {"n": 9}, msg_id="elsewhere")  # outside the filter
    seen, durable = Collector(), unique("d")
    await bus.consume(name, durable, f"{prefix}.created", seen)
    await eventually(lambda: len(seen.messages) == 3)
    assert seen.messages == [
        Message(subject=f"{prefix}.created", msg_id=f"m{n}", data={"n": n}, deliveries=1)
        for n in range(3)
    ]

    async def all_acked() -> bool:
        info = await bus.jetstream.consumer_info(name, durable)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    await eventually(all_acked)


async def test_a_durable_resumes_after_what_it_acked(bus: Bus, stream: tuple[str, str], nats_url):
    name, prefix = stream
    durable = unique("d")
    first = Collector()
    await bus.consume(name, durable, f"{prefix}.>", first)
    await bus.publish(f"{prefix}.e", {"n": 1}, msg_id="one")
    await eventually(lambda: len(first.messages) == 1)
    await bus.close()  # the consumer stops; its acks stay with the broker

    other = await Bus.connect(nats_url, name="restarted")
    try:
        await other.publish(f"{prefix}.e", {"n": 2}, msg_id="two")
        second = Collector()
        await other.consume(name, durable, f"{prefix}.>", second)
        await eventually(lambda: len(second.messages) == 1)
        assert second.msg_ids == ["two"]
    finally:
        await other.close()


async def test_a_failed_handler_gets_the_message_again(bus: Bus, stream: tuple[str, str]):
    name, prefix = stream
    deliveries: list[int] = []
    done: list[Message] = []

    async def flaky(message: Message) -> None:
        deliveries.append(message.deliveries)
        if message.deliveries == 1:
            raise RuntimeError("database hiccup")
        done.append(message)

    durable = unique("d")
    await bus.consume(name, durable, f"{prefix}.>", flaky)
    await bus.publish(f"{prefix}.e", {"n": 1}, msg_id="once")
    await eventually(lambda: len(done) == 1)
    assert deliveries == [1, 2]

    async def acked() -> bool:
        info = await bus.jetstream.consumer_info(name, durable)
        return bool(info.num_ack_pending == 0 and info.num_redelivered == 0)

    await eventually(acked)


async def test_a_message_that_is_no_json_object_is_dropped_not_redelivered(
    bus: Bus, stream: tuple[str, str]
):
    name, prefix = stream
    for raw in (b"not json", b"[1, 2]"):
        await bus.jetstream.publish(f"{prefix}.bad", raw)
    await bus.publish(f"{prefix}.good", {"n": 1}, msg_id="good")
    seen, durable = Collector(), unique("d")
    await bus.consume(name, durable, f"{prefix}.>", seen)

    async def settled() -> bool:
        info = await bus.jetstream.consumer_info(name, durable)
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    await eventually(settled)
    assert [m.data for m in seen.messages] == [{"n": 1}]
    assert (await bus.jetstream.consumer_info(name, durable)).num_redelivered == 0


async def test_a_pull_that_finds_nothing_is_no_error(
    bus: Bus, stream: tuple[str, str], monkeypatch: pytest.MonkeyPatch
):
    # A wait this short runs out inside nats-py's fetch the way a busy machine makes it run out:
    # nats-py then raises asyncio's own TimeoutError, not its nats.errors.TimeoutError.
    monkeypatch.setattr(bus_module, "FETCH_TIMEOUT", 0.0002)
    # Taken for a connection error, an empty pull would hold the consumer this long.
    monkeypatch.setattr(bus_module, "RETRY_DELAY", 30.0)
    name, prefix = stream
    seen = Collector()
    logs = record_logs(monkeypatch)
    await bus.consume(name, unique("idle"), f"{prefix}.>", seen)
    await asyncio.sleep(0.3)  # many empty pulls
    await bus.publish(f"{prefix}.x", {"n": 1}, msg_id=unique("m"))
    await eventually(lambda: len(seen.messages) == 1, timeout=5)
    assert logged(logs, "warning", "error", "exception") == []


async def test_a_cancel_that_a_fetch_turns_into_a_timeout_still_stops_the_pull():
    """nats-py may answer a cancelled fetch with a timeout: a close must end the pull anyway."""
    import nats.errors

    class Swallowing:
        async def fetch(self, batch: int, timeout: float) -> list[object]:  # noqa: ASYNC109 - nats-py's signature
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                raise nats.errors.TimeoutError from None
            return []

    async def handler(message: object) -> None:
        raise AssertionError("nothing is delivered")

    bus = Bus.__new__(Bus)
    task = asyncio.create_task(bus._pull(Swallowing(), "durable", handler, 1))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()
