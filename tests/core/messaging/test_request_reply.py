"""Request-reply over core NATS: the reply envelope, errors as the remote raised them, timeouts."""

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.msg import Msg

from backoffice.core.embedded import free_port
from backoffice.core.envelope import install_error_handlers
from backoffice.core.errors import Conflict, DomainError, ServiceUnavailable
from backoffice.core.messaging import Bus, RemoteError
from tests.core.messaging.conftest import unique


async def test_an_ok_reply_returns_the_handlers_data(bus: Bus):
    subject = unique("rr.ok")

    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return {"got": body, "amount": Decimal("12.30")}

    await bus.serve(subject, "svc", echo)
    data = await bus.request(subject, {"x": 1})
    assert data == {"got": {"x": 1}, "amount": "12.30"}


async def test_a_domain_error_comes_back_as_the_same_error(bus: Bus):
    subject = unique("rr.conflict")
    errors = [{"field": "email", "message": "Already taken", "code": "conflict"}]

    async def refuse(body: dict[str, Any]) -> dict[str, Any]:
        raise Conflict("Email taken", errors=errors)

    await bus.serve(subject, "svc", refuse)
    with pytest.raises(RemoteError) as caught:
        await bus.request(subject, {})
    error = caught.value
    assert isinstance(error, DomainError)
    assert (error.status_code, error.code, error.message) == (409, "conflict", "Email taken")
    assert error.errors == errors


@pytest.mark.parametrize("errors", [None, [{"field": "plan_id", "message": "No", "code": "x"}]])
async def test_a_remote_error_renders_as_if_raised_here(errors: list[dict[str, Any]] | None):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/remote")
    async def remote() -> None:
        raise RemoteError(418, "teapot", "I am a teapot", errors)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/remote")
    assert response.status_code == 418
    body = response.json()
    assert (body["status"], body["status_code"], body["message"]) == ("error", 418, "I am a teapot")
    default = [{"field": None, "message": "I am a teapot", "code": "teapot"}]
    assert body["errors"] == (errors or default)
    # The class keeps its own defaults: one remote error does not change the next.
    assert (RemoteError.status_code, RemoteError.code) == (400, "bad_request")


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'"text"'])
async def test_a_body_that_is_not_an_object_is_a_422(bus: Bus, nats_url: str, raw: bytes):
    subject = unique("rr.raw")
    called: list[dict[str, Any]] = []

    async def handler(body: dict[str, Any]) -> dict[str, Any]:
        called.append(body)
        return {}

    await bus.serve(subject, "svc", handler)
    nc = await nats.connect(nats_url)
    try:
        reply = json.loads((await nc.request(subject, raw, timeout=5)).data)
    finally:
        await nc.close()
    assert reply["ok"] is False
    assert reply["error"]["status"] == 422
    assert reply["error"]["code"] == "validation_error"
    assert called == []


async def test_an_unexpected_exception_is_a_500_without_its_text(bus: Bus):
    subject = unique("rr.boom")

    async def boom(body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internals /etc/passwd")

    await bus.serve(subject, "svc", boom)
    with pytest.raises(RemoteError) as caught:
        await bus.request(subject, {})
    assert (caught.value.status_code, caught.value.code) == (500, "internal_error")
    assert caught.value.message == "Internal error"
    assert "secret" not in str(caught.value)


async def test_no_responders_is_service_unavailable_naming_the_subject(bus: Bus):
    subject = unique("rr.nobody")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=subject) as caught:
        await bus.request(subject, {}, timeout=5)
    assert not isinstance(caught.value, RemoteError)
    assert time.monotonic() - started < 2  # NATS says at once that nobody listens


async def test_a_slow_reply_is_service_unavailable_after_the_timeout(bus: Bus):
    subject = unique("rr.slow")
    release = asyncio.Event()

    async def slow(body: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {}

    await bus.serve(subject, "svc", slow)
    try:
        with pytest.raises(ServiceUnavailable, match=f"No reply on {subject} within 0.2 s"):
            await bus.request(subject, {}, timeout=0.2)
    finally:
        release.set()


async def test_requests_are_answered_concurrently(bus: Bus):
    subject = unique("rr.concurrent")
    inside = 0
    most_inside = 0

    async def slow(body: dict[str, Any]) -> dict[str, Any]:
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        await asyncio.sleep(0.4)
        inside -= 1
        return body

    await bus.serve(subject, "svc", slow)
    started = time.monotonic()
    replies = await asyncio.gather(*(bus.request(subject, {"n": n}) for n in range(2)))
    elapsed = time.monotonic() - started
    assert replies == [{"n": 0}, {"n": 1}]
    assert most_inside == 2
    assert elapsed < 0.75, elapsed


async def test_close_stops_the_responders(nats_url: str, bus: Bus):
    subject = unique("rr.closed")
    server = await Bus.connect(nats_url, name="server")

    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    await server.serve(subject, "svc", echo)
    assert await bus.request(subject, {"a": 1}) == {"a": 1}
    await server.close()
    with pytest.raises(ServiceUnavailable, match="No service answers"):
        await bus.request(subject, {})


async def test_a_first_connection_that_fails_says_so():
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ServiceUnavailable, match=f"Cannot connect to NATS at {url}"):
        await Bus.connect(url, name="nowhere", connect_timeout=0.3)


@pytest.mark.parametrize("raw", [b"garbage", b"[]", b'{"ok": false}', b'{"ok": true}'])
async def test_a_malformed_reply_is_service_unavailable(bus: Bus, nats_url: str, raw: bytes):
    subject = unique("rr.malformed")
    nc = await nats.connect(nats_url)

    async def answer(msg: Msg) -> None:
        await msg.respond(raw)

    try:
        await nc.subscribe(subject, cb=answer)
        await nc.flush()
        with pytest.raises(ServiceUnavailable, match=f"Malformed reply on {subject}"):
            await bus.request(subject, {})
    finally:
        await nc.close()


async def test_a_responder_that_appears_a_moment_later_is_found(bus: Bus, nats_url: str):
    subject = unique("rr.late")
    late = await Bus.connect(nats_url, name="late")

    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    try:
        asking = asyncio.create_task(bus.request(subject, {"a": 1}))
        await asyncio.sleep(0.01)  # the first ask finds nobody
        await late.serve(subject, "svc", echo)
        assert await asking == {"a": 1}
    finally:
        await late.close()
