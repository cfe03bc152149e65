"""The platform's logins under the throttle: HTTP Basic, `POST /api/v1/auth/token`, the locks API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from backoffice.core.auth.service import Role
from backoffice.core.auth.throttle import LoginThrottle, MemoryStore, Policy, RedisStore
from backoffice.core.errors import Unauthorized
from tests.conftest import PASSWORD, basic, make_account

TOKEN = "/api/v1/auth/token"
LOCKS = "/api/v1/auth/locks"


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[LoginThrottle]:
    """The app's throttle for this test: 3 free failures an account, 6 an address."""
    if request.param == "memory":
        store: MemoryStore | RedisStore = MemoryStore()
    else:
        store = RedisStore(request.getfixturevalue("redis_url"))
    limits = {"first_lock": 30.0, "max_lock": 600.0, "memory": 3600.0}
    throttle = LoginThrottle(store, account=Policy(3, **limits), address=Policy(6, **limits))
    saved = app.state.login_throttle
    app.state.login_throttle = throttle
    yield throttle
    app.state.login_throttle = saved
    if isinstance(store, RedisStore):
        await store.aclose()


def _client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _address() -> str:
    return f"203.0.113.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"


def _counting_verifications(auth, monkeypatch) -> list[str]:
    calls: list[str] = []
    original = auth._verify

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return bool(original(stored, password))

    monkeypatch.setattr(auth, "_verify", counting)
    return calls


async def test_a_known_and_an_unknown_account_are_locked_alike(
    app, session, auth, throttle, monkeypatch
):
    await make_account(session, auth, Role.STAFF, username="locked-staff")
    verified = _counting_verifications(auth, monkeypatch)
    answers = {}
    for name in ("locked-staff", f"ghost-{uuid.uuid4().hex[:8]}"):
        async with _client_from(app, _address()) as http:
            responses = [
                await http.post(TOKEN, headers=basic(name, "wrong-pass")) for _ in range(5)
            ]
            # The right password of a locked account is refused too: a lock is no oracle.
            responses.append(await http.post(TOKEN, headers=basic(name, PASSWORD)))
        answers[name] = responses
    for responses in answers.values():
        assert [r.status_code for r in responses] == [401, 401, 401, 429, 429, 429]
        locked = responses[3]
        assert locked.headers["Retry-After"] == "30"
        assert locked.json()["status_code"] == 429
        assert locked.json()["message"] == "Too many failed sign-ins: retry in 30 s"
    known, unknown = answers.values()
    assert [r.json() for r in known[3:]] == [r.json() for r in unknown[3:]]
    assert len(verified) == 6, "3 wrong passwords per account reached argon2, no more"


async def test_basic_auth_on_any_route_counts_and_is_refused(app, session, auth, throttle):
    headers = await make_account(session, auth, Role.STAFF)
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    async with _client_from(app, _address()) as http:
        for _ in range(3):
            assert (
                await http.get("/api/v1/auth/me", headers=basic(name, "nope"))
            ).status_code == 401
        assert (await http.get("/api/v1/auth/me", headers=basic(name, "nope"))).status_code == 429
        # Another account from the same address is not locked (the address has 3 of its 6).
        assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 200
        # Bearer tokens are no password guesses: never throttled.
        token = (await http.post(TOKEN, headers=headers)).json()["data"]["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v1/auth/me", headers=bearer)).status_code == 200


async def test_an_address_guessing_many_accounts_is_locked(app, throttle):
    async with _client_from(app, _address()) as http:
        statuses = [
            (
                await http.post(TOKEN, headers=basic(f"user-{i}-{uuid.uuid4().hex[:6]}", "x"))
            ).status_code
            for i in range(8)
        ]
    assert statuses == [401] * 6 + [429] * 2


async def test_a_sign_in_forgets_the_accounts_failures(app, session, auth, throttle):
    name = f"forgetful-{uuid.uuid4().hex[:6]}"
    headers = await make_account(session, auth, Role.STAFF, username=name)
    async with _client_from(app, _address()) as http:
        for _ in range(2):
            assert (await http.post(TOKEN, headers=basic(name, "wrong"))).status_code == 401
        assert (await http.post(TOKEN, headers=headers)).status_code == 200
        for _ in range(3):
            assert (await http.post(TOKEN, headers=basic(name, "wrong"))).status_code == 401
        assert (await http.post(TOKEN, headers=basic(name, "wrong"))).status_code == 429


async def test_an_admin_sees_and_clears_a_lock(app, client, session, auth, admin, staff, throttle):
    name = f"victim-{uuid.uuid4().hex[:6]}"
    headers = await make_account(session, auth, Role.STAFF, username=name)
    address = _address()
    async with _client_from(app, address) as http:
        for _ in range(4):
            await http.post(TOKEN, headers=basic(name, "wrong"))
        assert (await http.post(TOKEN, headers=headers)).status_code == 429
        listed = await client.get(LOCKS, headers=admin)
        assert listed.status_code == 200, listed.text
        mine = [lock for lock in listed.json()["data"] if lock["key"] == f"platform:{name}"]
        assert len(mine) == 1
        assert mine[0]["scope"] == "platform" and mine[0]["failures"] == 3
        assert 0 < mine[0]["retry_after"] <= 30
        assert (await client.get(LOCKS, headers=staff)).status_code == 403
        assert (
            await client.delete(LOCKS, params={"key": f"platform:{name}"}, headers=staff)
        ).status_code == 403
        cleared = await client.delete(LOCKS, params={"key": f"platform:{name}"}, headers=admin)
        assert cleared.status_code == 200 and cleared.json()["data"] == {"key": f"platform:{name}"}
        assert (await http.post(TOKEN, headers=headers)).status_code == 200
    again = await client.delete(LOCKS, params={"key": f"platform:{name}"}, headers=admin)
    assert again.status_code == 404
    assert again.json()["errors"][0]["code"] == "lock_not_found"
    bad = await client.delete(LOCKS, params={"key": "nothing-like-a-key"}, headers=admin)
    assert bad.status_code == 422


async def test_guesses_sent_at_once_reach_argon2_no_more_than_the_free_failures(
    app, auth, throttle, monkeypatch
):
    verified: list[str] = []

    async def slow_wrong(sessions, username: str, password: str):
        # As argon2 would: the guesses overlap while each is verified (no database here: the
        # test transaction's one connection takes no concurrent statements).
        verified.append(password)
        await asyncio.sleep(0.05)
        raise Unauthorized("Invalid credentials")

    monkeypatch.setattr(auth, "authenticate", slow_wrong)
    async with _client_from(app, _address()) as http:
        responses = await asyncio.gather(
            *(http.post(TOKEN, headers=basic("burst-target", f"guess-{i}")) for i in range(30))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 3 + [429] * 27
    assert len(verified) == 3
