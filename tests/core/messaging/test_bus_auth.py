"""The savings bus admits only its services, each to the subjects it needs (issue 18, section 1).

Against the session's embedded NATS, whose users are the savings services' (savings.permissions)
and the tests' own. Each refusal is checked beside an allowed action on the same connection, so
that a test cannot pass because nothing works at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from backoffice.core.embedded import EmbeddedNats
from backoffice.core.errors import ServiceUnavailable
from backoffice.core.messaging import Bus
from backoffice.core.natsauth import NatsLogin
from backoffice.savings import subjects
from tests.core.messaging.conftest import eventually

QUIET = 0.3  # seconds a refused message is given to arrive anyway


@pytest.fixture
def server(nats_server: EmbeddedNats | None) -> EmbeddedNats:
    if nats_server is None:
        pytest.skip("NATS_URL names a server whose users these tests do not know")
    return nats_server


class Errors:
    """The asynchronous errors a connection got from the server (`-ERR`)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    def violations(self) -> list[str]:
        return [error for error in self.seen if "permissions violation" in error.lower()]


async def _raw(server: EmbeddedNats, login: NatsLogin, errors: Errors) -> Client:
    """A plain nats-py connection as `login`, its replies on its own inbox."""
    return await nats.connect(
        server.url,
        user=login.user,
        password=login.password,
        inbox_prefix=login.inbox,
        error_cb=errors.record,
        allow_reconnect=False,
    )


class Listener:
    """The tests' own connection, recording what arrives on some subjects."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.received: list[str] = []

    async def listen(self, *subjects_: str) -> None:
        async def record(msg: Msg) -> None:
            self.received.append(msg.subject)

        for subject in subjects_:
            await self.nc.subscribe(subject, cb=record)
        await self.nc.flush()


@pytest.fixture
async def listener(server: EmbeddedNats) -> AsyncIterator[Listener]:
    login = server.login("tests")
    nc = await nats.connect(server.url, user=login.user, password=login.password)
    try:
        yield Listener(nc)
    finally:
        await nc.close()


async def test_an_anonymous_connection_is_refused(server: EmbeddedNats):
    with pytest.raises(ServiceUnavailable):
        await Bus.connect(server.url, name="anonymous", connect_timeout=0.5)
    wrong = NatsLogin("savings-gateway", "not-its-password")
    with pytest.raises(ServiceUnavailable):
        await Bus.connect(server.url, name="guessing", login=wrong, connect_timeout=0.5)


async def test_the_gateway_cannot_publish_a_users_event(server: EmbeddedNats, listener: Listener):
    await listener.listen(subjects.USER_CREATED, subjects.SIGNUP)
    errors = Errors()
    gateway = await _raw(server, server.login("savings-gateway"), errors)
    try:
        await gateway.publish(subjects.SIGNUP, b"{}")  # allowed: a command it sends
        await gateway.publish(subjects.USER_CREATED, b'{"user_id": "someone"}')
        await gateway.flush()
        await eventually(lambda: bool(errors.violations()))
        await asyncio.sleep(QUIET)
    finally:
        await gateway.close()
    assert listener.received == [subjects.SIGNUP]
    assert subjects.USER_CREATED in errors.violations()[0]


@pytest.mark.parametrize("command", [subjects.UPDATE_USER, subjects.CREDIT, subjects.BALANCE])
async def test_the_gateway_cannot_subscribe_to_a_command(
    server: EmbeddedNats, nats_url: str, command: str
):
    gateway = await Bus.connect(server.url, name="gateway", login=server.login("savings-gateway"))
    tests = await Bus.connect(nats_url, name="tests")
    answered: list[dict[str, Any]] = []

    async def steal(body: dict[str, Any]) -> dict[str, Any]:
        answered.append(body)
        return {"stolen": True}

    try:
        await gateway.serve(command, "thieves", steal)
        with pytest.raises(ServiceUnavailable):
            await tests.request(command, {"user_id": "someone"}, timeout=QUIET)
    finally:
        await gateway.close()
        await tests.close()
    assert answered == []


async def test_the_users_service_cannot_send_a_credit(server: EmbeddedNats, listener: Listener):
    await listener.listen(subjects.CREDIT, subjects.USER_UPDATED)
    users = await Bus.connect(server.url, name="users", login=server.login("savings-users"))
    errors = Errors()
    raw = await _raw(server, server.login("savings-users"), errors)
    try:
        await raw.publish(subjects.USER_UPDATED, b"{}")  # allowed: its own event
        with pytest.raises(ServiceUnavailable):
            await users.request(
                subjects.CREDIT, {"user_id": "someone", "amount": "1e6"}, timeout=QUIET
            )
        await raw.publish(subjects.CREDIT, b'{"user_id": "someone", "amount": "1000000"}')
        await raw.flush()
        await eventually(lambda: bool(errors.violations()))
        await asyncio.sleep(QUIET)
    finally:
        await users.close()
        await raw.close()
    assert listener.received == [subjects.USER_UPDATED]


async def test_no_service_reads_another_s_replies(server: EmbeddedNats):
    errors = Errors()
    gateway = await _raw(server, server.login("savings-gateway"), errors)
    try:
        await gateway.subscribe("_INBOX.>")
        await gateway.subscribe("_INBOX.savings-users.>")
        await gateway.subscribe("_INBOX.savings-gateway.>")  # its own
        await gateway.flush()
        await eventually(lambda: len(errors.violations()) == 2)
        await asyncio.sleep(QUIET)
    finally:
        await gateway.close()
    assert len(errors.violations()) == 2, errors.seen
