"""The savings login under the throttle (core.auth.throttle), in memory and in Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from backoffice.core.auth.throttle import LoginThrottle, MemoryStore, Policy, RedisStore
from backoffice.core.messaging import RemoteError
from tests.savings.gateway.conftest import ADMIN, PASSWORD, sign_up

LOCKS = "http://test/api/v1/auth/locks"


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest, stack: FastAPI) -> AsyncIterator[LoginThrottle]:
    """The stack's throttle for this test: 3 wrong passwords lock an email, 5 an address."""
    if request.param == "memory":
        store: MemoryStore | RedisStore = MemoryStore()
    else:
        store = RedisStore(request.getfixturevalue("redis_url"))
    limits = {"first_lock": 60.0, "max_lock": 600.0, "memory": 3600.0}
    throttle = LoginThrottle(store, account=Policy(3, **limits), address=Policy(5, **limits))
    saved = stack.state.login_throttle
    stack.state.login_throttle = throttle
    yield throttle
    stack.state.login_throttle = saved
    if isinstance(store, RedisStore):
        await store.aclose()


def _from(stack: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    address = address or f"192.0.2.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    transport = httpx.ASGITransport(app=stack, raise_app_exceptions=False, client=(address, 9))
    return httpx.AsyncClient(transport=transport, base_url="http://test/api/v1/savings")


async def test_wrong_passwords_lock_a_known_and_an_unknown_email_alike(api, stack, throttle):
    customer = await sign_up(api)
    answers = []
    for email in (customer.email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"):
        async with _from(stack) as http:
            responses = [
                await http.post("/login", json={"email": email, "password": "wrong-password"})
                for _ in range(4)
            ]
            right = await http.post("/login", json={"email": email, "password": PASSWORD})
        answers.append([*responses, right])
    for responses in answers:
        assert [r.status_code for r in responses] == [401, 401, 401, 429, 429]
        assert responses[3].headers["Retry-After"] == "60"
    known, unknown = answers
    assert [r.json() for r in known[3:]] == [r.json() for r in unknown[3:]]
    assert known[3].headers["Retry-After"] == unknown[3].headers["Retry-After"]
    # The email's key folds case as the users service does: another spelling is the same lock.
    async with _from(stack) as http:
        upper = await http.post("/login", json={"email": customer.email.upper(), "password": "x"})
    assert upper.status_code == 429


async def test_an_address_spraying_emails_is_locked_and_an_admin_clears_it(api, stack, throttle):
    customer = await sign_up(api)
    address = f"198.51.100.7-{uuid.uuid4().hex[:8]}"
    async with _from(stack, address) as http:
        statuses = [
            (
                await http.post(
                    "/login", json={"email": f"s{i}-{uuid.uuid4().hex[:6]}@x.io", "password": "y"}
                )
            ).status_code
            for i in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        refused = await http.post("/login", json={"email": customer.email, "password": PASSWORD})
        assert refused.status_code == 429
        locks = (await api.get(LOCKS, auth=ADMIN)).json()["data"]
        assert f"address:{address}" in [lock["key"] for lock in locks]
        cleared = await api.delete(LOCKS, params={"key": f"address:{address}"}, auth=ADMIN)
        assert cleared.status_code == 200, cleared.text
        signed_in = await http.post("/login", json={"email": customer.email, "password": PASSWORD})
        assert signed_in.status_code == 200


async def test_a_sign_in_forgets_the_emails_failures(api, stack, throttle):
    customer = await sign_up(api)
    async with _from(stack) as http:
        for _ in range(2):
            wrong = await http.post("/login", json={"email": customer.email, "password": "nope!"})
            assert wrong.status_code == 401
        assert (
            await http.post("/login", json={"email": customer.email, "password": PASSWORD})
        ).status_code == 200
    assert await throttle.store.read([f"savings:{customer.email}"]) == [None]


async def test_a_login_the_users_service_cannot_answer_counts_no_failure(
    api, stack, throttle, monkeypatch
):
    async def down(subject, payload):
        raise RemoteError(503, "unavailable", "Service unavailable")

    monkeypatch.setattr(stack.state.savings_client, "ask", down)
    email = f"patient-{uuid.uuid4().hex[:8]}@example.com"
    async with _from(stack) as http:
        for _ in range(4):
            response = await http.post("/login", json={"email": email, "password": PASSWORD})
            assert response.status_code == 503
    assert await throttle.store.read([f"savings:{email}"]) == [None]
